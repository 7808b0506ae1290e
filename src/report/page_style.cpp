// The style sheet of report.html: a light page, white cards, system fonts; SVG text classes (tick, axis,
// legend, value, cell) used by svg_chart.cpp.
#include "report/report_sections.h"

namespace fm::report {

const char* const kPageCss = R"css(
:root{--bg:#f3f5f8;--card:#fff;--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--accent:#3b5bdb}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Noto Sans CJK JP",sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 28px 40px}
.hero{background:linear-gradient(120deg,#1e3a8a 0%,#3b5bdb 55%,#0f9d94 100%);color:#fff;border-radius:18px;padding:28px 32px 26px;box-shadow:0 10px 30px rgba(30,58,138,.25)}
.eyebrow{text-transform:uppercase;letter-spacing:.14em;font-size:12px;font-weight:600;opacity:.8}
h1{margin:6px 0 2px;font-size:32px;line-height:1.2;letter-spacing:-.01em}
.meta{opacity:.85;font-size:14px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;margin-top:22px}
.tile{background:rgba(255,255,255,.13);border:1px solid rgba(255,255,255,.22);border-radius:12px;padding:12px 16px}
.tile .k{font-size:12px;opacity:.85;text-transform:uppercase;letter-spacing:.06em}
.tile .v{font-size:24px;font-weight:700;margin:2px 0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.tile .s{font-size:13px;opacity:.9}
section{background:var(--card);border-radius:16px;box-shadow:0 1px 2px rgba(16,24,40,.05),0 2px 8px rgba(16,24,40,.06);padding:24px 28px 26px;margin-top:22px}
h2{font-size:21px;margin:0 0 4px;letter-spacing:-.01em}
h3{font-size:15px;margin:22px 0 6px}
.panel h3{margin-top:0}
.lede{color:var(--muted);margin:0 0 16px;max-width:860px}
.split{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:28px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:18px}
.grid3{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px;margin-top:18px}
.grid2.tight{gap:14px}
figure{margin:0;border:1px solid var(--line);border-radius:12px;padding:14px 16px 12px;background:#fff}
figure.wide{margin-top:18px}
figcaption{font-weight:650;font-size:15px}
.stats{color:var(--muted);font-size:13px;margin:2px 0 8px}
.source{color:#9ca3af;font-size:12px;margin-top:8px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
svg{max-width:100%;height:auto;display:block;margin-top:6px}
svg text{font-family:inherit}
.tick{font-size:11px;fill:#6b7280}
.strong{font-weight:600;fill:#374151}
.axis{font-size:12px;fill:#374151}
.legend{font-size:12px;fill:#374151}
.value{font-size:11.5px;fill:#374151;font-variant-numeric:tabular-nums}
.value.best{font-weight:700;fill:#111827}
.cell{font-size:10.5px;font-variant-numeric:tabular-nums}
.muted{fill:#9ca3af;font-size:12px}
.muted-text{color:var(--muted)}
table{border-collapse:collapse;width:100%;font-size:14px;font-variant-numeric:tabular-nums}
table.compact{width:auto;min-width:420px;margin:14px 0 4px}
.scroll{overflow-x:auto}
th,td{padding:8px 14px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{font-size:12.5px;color:var(--muted);font-weight:600;background:#f9fafb;border-bottom:1px solid #d1d5db}
th.primary{color:#1e3a8a}
tbody tr:hover{background:#fafbff}
td.best{background:#e3f5ea;font-weight:700;color:#05603a}
.se{color:#9ca3af;font-weight:400;font-size:12px}
.badge{display:inline-block;font-size:10.5px;font-weight:600;color:#1e3a8a;background:#e0e7ff;border-radius:999px;padding:1px 7px;margin-left:4px;vertical-align:1px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:8px}
.verdict{border-left:4px solid #5b7bd5;padding:10px 14px;background:#f1f5ff;border-radius:8px;margin:10px 0}
.verdict.good{border-left-color:#2e9e6b;background:#ecfdf3}
.num{font-variant-numeric:tabular-nums}
.notrun{color:var(--muted);font-style:italic;padding:16px 18px;border:1px dashed #d1d5db;border-radius:10px;background:#fafafa;margin:8px 0}
dl.settings{display:grid;grid-template-columns:minmax(120px,max-content) 1fr;gap:5px 18px;margin:0;font-size:14px}
dl.settings dt{color:var(--muted);font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;padding-top:2px}
dl.settings dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;background:#f1f3f5;padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:12.5px;text-align:center;margin-top:26px}
@media print{body{background:#fff}section,figure{break-inside:avoid;box-shadow:none}.hero{box-shadow:none}}
)css";

}  // namespace fm::report
