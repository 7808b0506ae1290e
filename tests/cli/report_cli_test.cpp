// `finmerge report` end to end on REAL inputs: metrics.jsonl of two short `finmerge cpt` runs on a tiny
// model, the JSON of `finmerge analyze` on their task vectors, a small results.json; then the page is
// rendered in headless Chromium (Debian's `chromium`) to a PNG: it must load without console errors, show
// every section, and the PNG must be a valid, non-blank image of the window's size.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/tiny_checkpoint.h"
#include "train/train_testing.h"

namespace fm {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) n++;
  return n;
}

// A token-shard folder (train + val) of the repetitive corpus over ids [first, first + period).
void WriteCorpus(const std::string& dir, uint32_t first, uint32_t period) {
  fs::create_directories(dir);
  testing::WriteShard(dir + "/train_00000.bin", 64, testing::RepetitiveCorpus(first, period, 63, 300));
  testing::WriteShard(dir + "/val_00000.bin", 64, testing::RepetitiveCorpus(first, period, 63, 40));
  std::ofstream(dir + "/manifest.json") << "{}";
}

// The path of Debian's chromium; installs it when missing and running as root. Empty = not available.
std::string FindChromium(std::string* why) {
  std::string out;
  if (RunCommand("command -v chromium", &out) == 0) return out.substr(0, out.find('\n'));
  if (geteuid() != 0) {
    *why =
        "chromium is not installed and this is not root (apt-get install chromium, or "
        "scripts/install-deps.sh)";
    return "";
  }
  const std::string install =
      "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium";
  if (RunCommand(install, &out) != 0 && RunCommand("apt-get update -qq && " + install, &out) != 0) {
    *why = "apt-get install chromium failed: " + out.substr(0, 300);
    return "";
  }
  if (RunCommand("command -v chromium", &out) == 0) return out.substr(0, out.find('\n'));
  *why = "chromium not on PATH after installing it";
  return "";
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) | static_cast<uint8_t>(s[at + 3]);
}

uint32_t Crc32(const std::string& s, size_t begin, size_t end) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t c = n;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = begin; i < end; i++) c = table[(c ^ static_cast<uint8_t>(s[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct PngInfo {
  uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  size_t idat_bytes = 0;
};

// Checks the signature, that IHDR comes first, every chunk's CRC, and that IEND ends the file. "" when valid.
std::string ParsePng(const std::string& png, PngInfo* info) {
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return "no PNG signature";
  size_t p = 8;
  bool first = true, end = false;
  while (p + 12 <= png.size() && !end) {
    const uint32_t len = BigEndian32(png, p);
    const std::string type = png.substr(p + 4, 4);
    if (p + 12 + len > png.size()) return "chunk " + type + " runs past the end";
    if (Crc32(png, p + 4, p + 8 + len) != BigEndian32(png, p + 8 + len)) return "bad CRC in chunk " + type;
    if (first) {
      if (type != "IHDR" || len != 13) return "first chunk is not IHDR";
      info->width = BigEndian32(png, p + 8);
      info->height = BigEndian32(png, p + 12);
      info->bit_depth = static_cast<uint8_t>(png[p + 16]);
      info->color_type = static_cast<uint8_t>(png[p + 17]);
      first = false;
    }
    if (type == "IDAT") info->idat_bytes += len;
    end = type == "IEND";
    p += 12 + len;
  }
  if (!end) return "no IEND chunk";
  if (p != png.size()) return "bytes after IEND";
  return "";
}

TEST(ReportCli, RealRunRendersInHeadlessChromium) {
  TempDir tmp;
  const std::string bin = FINMERGE_BINARY;
  // 1. Real inputs: a tiny base model, two short CPT runs on different corpora (their task vectors), and the
  //    analysis of those task vectors.
  testing::WriteRandomModel(tmp / "base", DType::kBF16);
  WriteCorpus(tmp / "domain-data", 1, 20);
  WriteCorpus(tmp / "general-data", 30, 16);
  std::string out;
  const std::string train =
      " --seq-len 16 --batch-size 4 --lr 1e-2 --min-lr 1e-3 --warmup 3 --seed 3 "
      "--eval-batches 2 --precision fp32 --threads 1 ";
  ASSERT_EQ(RunCommand(bin + " cpt --model " + (tmp / "base") + " --data " + (tmp / "domain-data") + " -o " +
                           (tmp / "domain") + train + "--steps 60 --eval-every 10",
                       &out),
            0)
      << out;
  ASSERT_EQ(RunCommand(bin + " cpt --model " + (tmp / "base") + " --data " + (tmp / "general-data") + " -o " +
                           (tmp / "general") + train + "--steps 30 --eval-every 5",
                       &out),
            0)
      << out;
  ASSERT_EQ(RunCommand(bin + " analyze --base " + (tmp / "base") + " " + (tmp / "general") + " " +
                           (tmp / "domain") + " --labels general domain --json " + (tmp / "analysis.json"),
                       &out),
            0)
      << out;
  std::ofstream(tmp / "results.json") << R"({
    "primary_metric": "fin_chat",
    "models": {"base": {"fin_mc": 0.25, "chat_format": 0.05, "fin_chat": 0.02},
               "instruct": {"fin_mc": 0.30, "chat_format": 0.90, "fin_chat": 0.15},
               "cpt": {"fin_mc": 0.70, "chat_format": 0.08, "fin_chat": 0.05},
               "merged": {"fin_mc": 0.64, "chat_format": 0.85, "fin_chat": 0.45}},
    "task_vector_cosine": 0.01,
    "stage_seconds": {"pretrain": 61.0, "sft": 12.5, "cpt": 20.0, "merge": 0.4, "eval": 9.0}
  })";
  std::ofstream(tmp / "settings.json")
      << R"({"seed": 3, "cpt": {"steps": 60, "lr": 0.01}, "merge": "chat-vector"})";

  // 2. The report, with one stage that did not run.
  const std::string html_path = tmp / "report.html";
  ASSERT_EQ(RunCommand(bin + " report -o " + html_path +
                           " --title 'Tiny <real> run' --loss 'domain CPT=" + (tmp / "domain/metrics.jsonl") +
                           "' --loss 'general CPT=" + (tmp / "general/metrics.jsonl") + "' --loss SFT=" +
                           (tmp / "sft/metrics.jsonl") + " --analysis " + (tmp / "analysis.json") +
                           " --results " + (tmp / "results.json") + " --settings " + (tmp / "settings.json"),
                       &out),
            0)
      << out;
  EXPECT_NE(out.find("report: wrote " + html_path), std::string::npos) << out;
  EXPECT_NE(out.find(tmp / "sft/metrics.jsonl" + " does not exist"), std::string::npos) << out;
  const std::string html = ReadAll(html_path);
  EXPECT_NE(html.find("Tiny &lt;real&gt; run"), std::string::npos);
  EXPECT_NE(html.find("SFT: not run"), std::string::npos);
  EXPECT_GE(Count(html, "<svg"),
            2u + 1u + 2u + 3u);  // 2 loss charts, 1 cosine map, 2 norm maps, 3 bar charts
  EXPECT_NE(html.find("60 steps"), std::string::npos);
  EXPECT_NE(html.find("layer 1, attn norm: cosine"), std::string::npos);

  // A malformed input: a one-line error naming the file and line, and the old report stays.
  std::ofstream(tmp / "bad.jsonl") << ReadAll(tmp / "domain/metrics.jsonl") << "{\"step\": 61, \"loss\": }\n";
  EXPECT_EQ(RunCommand(bin + " report -o " + html_path + " --loss bad=" + (tmp / "bad.jsonl"), &out), 1);
  EXPECT_EQ(out.find("finmerge: error: " + tmp / "bad.jsonl:61: invalid JSON"), 0u) << out;
  EXPECT_EQ(Count(out, "\n"), 1u) << out;
  EXPECT_EQ(ReadAll(html_path), html);

  // 3. Headless Chromium: the page and, at the same time, a blank page of the same size for comparison.
  std::string why;
  const std::string chromium = FindChromium(&why);
  if (chromium.empty()) GTEST_SKIP() << why;
  std::ofstream(tmp / "blank.html") << "<!DOCTYPE html><html><body></body></html>";
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --enable-logging=stderr --v=0 "
      "--window-size=1280,3000 --user-data-dir=";
  const std::string cmd = "(" + chromium + flags + (tmp / "profile-a") +
                          " --dump-dom --screenshot=" + (tmp / "report.png") + " file://" + html_path +
                          " > " + (tmp / "dom.html") + " 2> " + (tmp / "chromium.log") + "; echo $? > " +
                          (tmp / "rc") + ") & (" + chromium + flags + (tmp / "profile-b") +
                          " --screenshot=" + (tmp / "blank.png") + " file://" + (tmp / "blank.html") +
                          " > /dev/null 2>&1) & wait";
  ASSERT_EQ(RunCommand("timeout 120 sh -c '" + cmd + "'", &out), 0) << out;
  const std::string log = ReadAll(tmp / "chromium.log");
  ASSERT_EQ(ReadAll(tmp / "rc"), "0\n") << log;
  for (const char* bad : {"CONSOLE", "Uncaught", "net::ERR_", "Not allowed to load"}) {
    EXPECT_EQ(log.find(bad), std::string::npos) << bad << " in chromium's log:\n" << log;
  }
  // The DOM Chromium built holds every section, with its charts.
  const std::string dom = ReadAll(tmp / "dom.html");
  for (const char* id : {"summary", "run-settings", "loss-curves", "task-vectors", "evaluation"}) {
    EXPECT_NE(dom.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_EQ(Count(dom, "<svg"), Count(html, "<svg"));
  EXPECT_NE(dom.find("Overall cosine similarity of <b>general</b> and <b>domain</b>"), std::string::npos);
  // A valid PNG of the window's size, far from blank.
  PngInfo png, blank;
  const std::string png_bytes = ReadAll(tmp / "report.png"), blank_bytes = ReadAll(tmp / "blank.png");
  ASSERT_EQ(ParsePng(png_bytes, &png), "");
  EXPECT_EQ(png.width, 1280u);
  EXPECT_EQ(png.height, 3000u);
  EXPECT_EQ(png.bit_depth, 8);
  EXPECT_TRUE(png.color_type == 2 || png.color_type == 6) << png.color_type;
  ASSERT_EQ(ParsePng(blank_bytes, &blank), "");
  EXPECT_EQ(blank.width, 1280u);
  EXPECT_EQ(blank.height, 3000u);
  EXPECT_GT(png_bytes.size(), 10 * blank_bytes.size())
      << "report " << png_bytes.size() << " bytes vs blank " << blank_bytes.size();
  // Keep the picture for a person to look at when FINMERGE_KEEP_REPORT names a folder.
  if (const char* keep = std::getenv("FINMERGE_KEEP_REPORT")) {
    fs::copy_file(tmp / "report.png", std::string(keep) + "/report.png",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(html_path, std::string(keep) + "/report.html", fs::copy_options::overwrite_existing);
  }
}

}  // namespace
}  // namespace fm
