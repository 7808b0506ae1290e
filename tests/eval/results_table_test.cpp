#include "eval/results_table.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fm {
namespace {

ResultsTable Sample() {
  ResultsTable t;
  t.Set("base", "ppl/fomc.txt", 12.3456);
  t.Set("base", "cma/acc", 0.5, 0.05);
  t.Set("merged", "cma/acc", 0.625, 0.0484);
  t.Set("merged", "ifeval/prompt_strict", 0.25, std::nan(""));
  return t;
}

TEST(ResultsTable, RowsPerModelColumnsPerMetric) {
  ResultsTable t = Sample();
  EXPECT_EQ(t.models(), (std::vector<std::string>{"base", "merged"}));
  EXPECT_EQ(t.metrics(), (std::vector<std::string>{"ppl/fomc.txt", "cma/acc", "ifeval/prompt_strict"}));
  EXPECT_EQ(*t.Get("merged", "cma/acc"), 0.625);
  EXPECT_FALSE(t.Get("base", "ifeval/prompt_strict").has_value());
}

TEST(ResultsTable, Renderings) {
  ResultsTable t = Sample();
  EXPECT_EQ(t.RenderMarkdown(),
            "| model | ppl/fomc.txt | cma/acc | ifeval/prompt_strict |\n"
            "|---|---:|---:|---:|\n"
            "| base | 12.35 | 0.5000 ± 0.0500 | - |\n"
            "| merged | - | 0.6250 ± 0.0484 | 0.2500 |\n");
  EXPECT_EQ(t.RenderTerminal(),
            "model   ppl/fomc.txt          cma/acc  ifeval/prompt_strict\n"
            "-----------------------------------------------------------\n"
            "base           12.35  0.5000 ± 0.0500                     -\n"
            "merged             -  0.6250 ± 0.0484                0.2500\n");
  nlohmann::ordered_json j = t.ToJson();
  EXPECT_EQ(j.dump(), R"({"base":{"ppl/fomc.txt":12.3456,"cma/acc":0.5,"cma/acc_stderr":0.05},)"
                      R"("merged":{"cma/acc":0.625,"cma/acc_stderr":0.0484,"ifeval/prompt_strict":0.25}})");
  EXPECT_EQ(ResultsTable::FormatValue(std::nan("")), "nan");
}

}  // namespace
}  // namespace fm
