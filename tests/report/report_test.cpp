// The whole page: sections, "not run" for absent inputs, escaping of everything taken from inputs, the best
// value per metric, the words about the cosine, errors for malformed files and the atomic write.
#include "report/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

using fm::testing::TempDir;

std::string Write(const TempDir& tmp, const std::string& name, const std::string& text) {
  std::ofstream(tmp / name) << text;
  return tmp / name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) n++;
  return n;
}

// Between the opening tag of section `id` and its </section>.
std::string Section(const std::string& html, const std::string& id) {
  const size_t a = html.find("<section id=\"" + id + "\"");
  if (a == std::string::npos) return "";
  return html.substr(a, html.find("</section>", a) - a);
}

std::string Metrics(int steps, double start = 5.0) {
  std::string s;
  for (int i = 1; i <= steps; i++) {
    nlohmann::json j = {{"step", i},
                        {"loss", start / (1 + 0.1 * i)},
                        {"lr", 1e-3},
                        {"grad_norm", 1.0},
                        {"tokens_per_s", 1000.0}};
    if (i % 10 == 0) j["val_loss"] = start / (1 + 0.09 * i);
    s += j.dump() + "\n";
  }
  return s;
}

std::string Analysis(double overall_cos, const std::vector<std::string>& labels = {"instruct", "cpt"}) {
  auto stats = [](double cos) {
    return nlohmann::json{{"elements", 64},
                          {"norm", {3.0, 4.0}},
                          {"relative_norm", {0.01, 0.02}},
                          {"cosine", {{1.0, cos}, {cos, 1.0}}},
                          {"sign_agreement", {{1.0, 0.51}, {0.51, 1.0}}}};
  };
  nlohmann::json j;
  j["base"] = "/m/base";
  j["labels"] = labels;
  j["models"] = labels;
  j["overall"] = stats(overall_cos);
  j["by_module"] = {{"attn_q", stats(0.05)}};
  j["by_layer"] = nlohmann::json::array();
  j["tensors"] = nlohmann::json::array();
  for (int l = 0; l < 2; l++) {
    nlohmann::json e = stats(0.01 * (l + 1));
    e["layer"] = l;
    j["by_layer"].push_back(e);
    for (const char* t : {"self_attn.q_proj", "self_attn.k_proj", "mlp.gate_proj", "input_layernorm"}) {
      nlohmann::json x = stats(l == 0 ? 0.04 : -0.03);
      x["name"] = "model.layers." + std::to_string(l) + "." + t + ".weight";
      x["layer"] = l;
      x["module"] = "other";
      j["tensors"].push_back(x);
    }
  }
  nlohmann::json emb = stats(0.2);
  emb["name"] = "model.embed_tokens.weight";
  emb["layer"] = -1;
  emb["module"] = "embedding";
  j["tensors"].push_back(emb);
  return j.dump();
}

const char* kResults = R"({
  "primary_metric": "fin_chat",
  "models": {"base": {"fin_mc": 0.25, "fin_chat": 0.05, "perplexity": 30.0},
             "instruct": {"fin_mc": 0.30, "fin_chat": 0.20, "perplexity": 28.0},
             "cpt": {"fin_mc": 0.70, "fin_chat": 0.10, "perplexity": 12.0},
             "merged": {"fin_mc": 0.65, "fin_chat": 0.55, "perplexity": 14.0}},
  "task_vector_cosine": 0.012,
  "stage_seconds": {"pretrain": 95.0, "sft": 20.5, "cpt": 40.0, "merge": 1.2, "eval": 30.0}
})";

TEST(Report, NoInputsGivesEverySectionNotRun) {
  ReportInputs in;
  in.date = "2026-01-02 03:04 UTC";
  std::string html;
  ASSERT_TRUE(RenderReport(in, &html).ok());
  EXPECT_EQ(html.find("<!DOCTYPE html>"), 0u);
  EXPECT_NE(html.find("2026-01-02 03:04 UTC"), std::string::npos);
  for (const char* id : {"loss-curves", "task-vectors", "evaluation"}) {
    const std::string s = Section(html, id);
    ASSERT_FALSE(s.empty()) << id;
    EXPECT_NE(s.find("not run"), std::string::npos) << id;
    EXPECT_EQ(s.find("<svg"), std::string::npos) << id;
  }
  EXPECT_NE(Section(html, "run-settings").find("No settings file given"), std::string::npos);
  // Self-contained: no scripts, no external resources.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org"));  // only SVG namespaces
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST(Report, MissingFilesSayNotRunAndAreListed) {
  TempDir tmp;
  ReportInputs in;
  in.loss_curves = {{"CPT", tmp / "cpt/metrics.jsonl"}};
  in.analysis_json = tmp / "analysis.json";
  in.results_json = tmp / "results.json";
  in.settings_json = tmp / "settings.json";
  std::string html;
  std::vector<std::string> missing;
  ASSERT_TRUE(RenderReport(in, &html, &missing).ok());
  EXPECT_EQ(missing.size(), 4u);
  EXPECT_NE(Section(html, "loss-curves").find("CPT: not run (no file at <code>" + tmp / "cpt/metrics.jsonl"),
            std::string::npos);
  EXPECT_NE(Section(html, "task-vectors").find("not run (no file at"), std::string::npos);
  EXPECT_NE(Section(html, "evaluation").find("not run (no file at"), std::string::npos);
}

TEST(Report, FullReportHasEverySection) {
  TempDir tmp;
  ReportInputs in;
  in.title = "Demo run";
  in.loss_curves = {{"SFT", Write(tmp, "sft.jsonl", Metrics(40))},
                    {"CPT", Write(tmp, "cpt.jsonl", Metrics(120))}};
  in.analysis_json = Write(tmp, "a.json", Analysis(0.012));
  in.results_json = Write(tmp, "r.json", kResults);
  in.settings_json = Write(tmp, "s.json", R"({"seed": 1, "cpt": {"steps": 120}})");
  in.stage_seconds = {{"report", 0.5}, {"merge", 2.0}};
  std::string html;
  std::vector<std::string> missing;
  ASSERT_TRUE(RenderReport(in, &html, &missing).ok());
  EXPECT_TRUE(missing.empty());

  const std::string loss = Section(html, "loss-curves");
  EXPECT_EQ(Count(loss, "<svg"), 2u);
  EXPECT_NE(loss.find("smoothed (EMA"), std::string::npos);
  EXPECT_NE(loss.find("val loss"), std::string::npos);
  EXPECT_NE(loss.find("120 steps"), std::string::npos);
  EXPECT_EQ(loss.find("not run"), std::string::npos);

  const std::string tv = Section(html, "task-vectors");
  EXPECT_NE(tv.find("near-zero cosine similarity: the two vectors are nearly independent"),
            std::string::npos);
  // Heatmap: 2 layers x (q, k, gate, attn norm) + the embedding outside the layers, in the cosine figure and
  // both relative-norm figures.
  EXPECT_NE(tv.find("layer 1, gate: cosine -0.03000"), std::string::npos) << tv;
  EXPECT_NE(tv.find("embed: cosine 0.2000"), std::string::npos);
  EXPECT_NE(tv.find("L2 norm per layer"), std::string::npos);
  EXPECT_NE(tv.find("layer 0, attn norm: cosine 0.04000"), std::string::npos);
  EXPECT_EQ(Count(tv, "<svg"), 3u);
  // The colour scale ends at the smallest of 0.1, 0.2, 0.5, 1 that holds every cell (the embedding's 0.2).
  EXPECT_NE(tv.find(">-0.2</text>"), std::string::npos) << tv;

  const std::string ev = Section(html, "evaluation");
  EXPECT_EQ(Count(ev, "<svg"), 3u);  // one bar chart per metric
  // Best per column: merged on fin_chat, cpt on fin_mc, cpt on perplexity (lower is better).
  EXPECT_NE(ev.find("<td class=\"best\">0.550</td>"), std::string::npos) << ev;
  EXPECT_NE(ev.find("<td class=\"best\">0.700</td>"), std::string::npos);
  EXPECT_NE(ev.find("<td class=\"best\">12.0</td>"), std::string::npos);
  EXPECT_EQ(Count(ev, "class=\"best\""), 3u);
  EXPECT_NE(ev.find("The merged model beats both of its parents"), std::string::npos);
  EXPECT_LT(ev.find("fin_chat ↑"), ev.find("fin_mc ↑"));  // primary metric first
  EXPECT_NE(ev.find("perplexity ↓"), std::string::npos);

  // Header: tiles and stage times (the caller's stages added after the results file's).
  const std::string header = html.substr(0, html.find("</header>"));
  EXPECT_NE(header.find("best on fin_chat"), std::string::npos);
  EXPECT_NE(header.find(">merged<"), std::string::npos);
  EXPECT_NE(header.find("task-vector cosine"), std::string::npos);
  const std::string run = Section(html, "run-settings");
  EXPECT_NE(run.find("<dt>cpt.steps</dt><dd>120</dd>"), std::string::npos);
  EXPECT_LT(run.find(">pretrain</text>"), run.find(">report</text>"));
  EXPECT_NE(run.find("Total 3 m 08 s over 6 stages"), std::string::npos) << run;
}

TEST(Report, EvalJsonWithStandardErrors) {
  TempDir tmp;
  ReportInputs in;
  in.results_json = Write(tmp, "eval.json", R"({"models": {"a": {"acc": 0.5, "acc_stderr": 0.05},
      "b": {"acc": 0.75, "acc_stderr": 0.04}}, "metrics": ["acc"], "details": {}})");
  std::string html;
  ASSERT_TRUE(RenderReport(in, &html).ok());
  const std::string ev = Section(html, "evaluation");
  EXPECT_NE(ev.find("<td class=\"best\">0.750<span class=\"se\"> ± 0.040</span></td>"), std::string::npos)
      << ev;
  EXPECT_NE(ev.find("± is the standard error"), std::string::npos);
  EXPECT_EQ(ev.find("acc_stderr"), std::string::npos);
  EXPECT_EQ(Count(ev, "<svg"), 1u);
}

TEST(Report, CosineVerdictsFollowTheValue) {
  TempDir tmp;
  struct Case {
    double cos;
    const char* words;
  };
  for (const Case& c : {Case{0.05, "near-zero cosine similarity: the two vectors are nearly independent"},
                        Case{-0.099, "near-zero cosine similarity"}, Case{0.2, "weak positive"},
                        Case{-0.45, "moderate negative"}, Case{0.9, "strong positive"}}) {
    ReportInputs in;
    in.analysis_json = Write(tmp, "a.json", Analysis(c.cos));
    std::string html;
    ASSERT_TRUE(RenderReport(in, &html).ok());
    EXPECT_NE(Section(html, "task-vectors").find(c.words), std::string::npos) << c.cos;
  }
}

TEST(Report, EveryInputStringIsEscaped) {
  TempDir tmp;
  const std::string evil = "<script>alert('x')</script>&";
  ReportInputs in;
  in.title = evil;
  in.loss_curves = {{evil, Write(tmp, "m.jsonl", Metrics(12))}};
  in.analysis_json = Write(tmp, "a.json", Analysis(0.01, {evil, "<b>cpt</b>"}));
  nlohmann::json r = {{"primary_metric", evil},
                      {"models", {{evil, {{evil, 1.0}}}, {"<i>m</i>", {{evil, 2.0}}}}},
                      {"stage_seconds", {{evil, 1.0}}}};
  in.results_json = Write(tmp, "r.json", r.dump());
  in.settings_json = Write(tmp, "s.json", nlohmann::json{{evil, evil}}.dump());
  in.stage_seconds = {{evil, 2.0}};
  std::string html;
  ASSERT_TRUE(RenderReport(in, &html).ok());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>cpt"), std::string::npos);
  EXPECT_EQ(html.find("<i>m"), std::string::npos);
  EXPECT_EQ(html.find("alert('x')"), std::string::npos);
  EXPECT_GT(Count(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"), 10u);
  // The page's own markup is intact: as many </section> as <section.
  EXPECT_EQ(Count(html, "<section"), Count(html, "</section>"));
  EXPECT_EQ(Count(html, "<svg"), Count(html, "</svg>"));
}

TEST(Report, MalformedFilesAreOneLineErrorsNamingFileAndLine) {
  TempDir tmp;
  const std::string good = Write(tmp, "good.jsonl", Metrics(3));
  std::string bad_metrics = Metrics(3) + "{\"step\": 4, \"loss\": oops}\n";
  struct Case {
    ReportInputs in;
    std::string expect;
  };
  std::vector<Case> cases(4);
  cases[0].in.loss_curves = {{"ok", good}, {"bad", Write(tmp, "bad.jsonl", bad_metrics)}};
  cases[0].expect = tmp / "bad.jsonl:4: invalid JSON";
  cases[1].in.analysis_json = Write(tmp, "a.json", "{\n\"labels\": [\"a\",\n}");
  cases[1].expect = tmp / "a.json:3: invalid JSON";
  cases[2].in.results_json = Write(tmp, "r.json", "{\"models\": [1, 2]}");
  cases[2].expect = tmp / "r.json: no 'models' object";
  cases[3].in.settings_json = Write(tmp, "s.json", "\"just a string\"");
  cases[3].expect = tmp / "s.json: settings must be a JSON object";
  for (const Case& c : cases) {
    std::string html;
    Status s = RenderReport(c.in, &html);
    ASSERT_FALSE(s.ok()) << c.expect;
    EXPECT_EQ(s.message().find(c.expect), 0u) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
    // And nothing is written, not even over an existing report.
    Write(tmp, "report.html", "old");
    EXPECT_FALSE(WriteReport(c.in, tmp / "report.html").ok());
    EXPECT_EQ(ReadAll(tmp / "report.html"), "old");
  }
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST(Report, WriteReportReplacesTheFileAtomically) {
  TempDir tmp;
  Write(tmp, "report.html", "old");
  ReportInputs in;
  in.title = "atomic";
  ASSERT_TRUE(WriteReport(in, tmp / "report.html").ok());
  const std::string html = ReadAll(tmp / "report.html");
  EXPECT_NE(html.find("<title>atomic</title>"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  Status s = WriteReport(in, tmp / "no/such/folder/report.html");
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace fm
