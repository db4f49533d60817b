/** The report's whole stylesheet, inlined in its <style>: light and dark, laptop and phone widths. */
export const REPORT_CSS = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --panel: #f6f8fa; --line: #d1d9e0;
  --grid: #e6eaef; --accent: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23; --line: #3d444d; --grid: #262c36; --accent: #4493f8; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 20px 0 8px; }
p.meta, .note { color: var(--muted); margin: 0 0 8px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85em; }
.hash { word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin: 18px 0 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 0.8rem; }
.card .value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 16px; }
figure { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 10px 6px; min-width: 0; }
figcaption { font-weight: 600; margin: 0 0 4px 4px; }
svg { display: block; width: 100%; height: auto; }
svg text { fill: var(--fg); font-size: 13px; font-family: inherit; }
svg .tick { fill: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; }
svg .axis-label { fill: var(--muted); font-size: 13px; }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .frame { fill: none; stroke: var(--line); stroke-width: 1; }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg .series.faint { stroke-width: 1; opacity: 0.3; }
svg .marker { stroke: var(--panel); stroke-width: 1.5; }
svg.confusion { max-width: 520px; margin: 0 auto; }
svg.confusion .cell text { font-size: 12px; font-variant-numeric: tabular-nums; }
svg.confusion .cell text.on-dark { fill: #ffffff; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 2px 0 0 4px; padding: 0; color: var(--muted); font-size: 0.85rem; }
.swatch { display: inline-block; width: 14px; height: 3px; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.two { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 16px; align-items: start; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { color: var(--muted); font-weight: 600; font-size: 0.85rem; white-space: nowrap; }
.num { text-align: right; }
table.facts th { color: var(--muted); font-weight: 500; width: 38%; }
.errors img { display: block; max-width: 100%; height: auto; image-rendering: pixelated; border-radius: 6px; margin: 0 auto; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85rem; }
@media (max-width: 640px) {
  main { padding: 16px 12px 32px; }
  h1 { font-size: 1.3rem; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .card .value { font-size: 1.15rem; }
  /* The charts scale down with the screen; their text is enlarged to stay readable. */
  .chart svg text, .chart svg .tick, .chart svg .axis-label { font-size: 19px; }
  svg .series { stroke-width: 3; }
  svg.confusion .cell text { font-size: 14px; }
  svg.confusion .tick, svg.confusion .axis-label { font-size: 16px; }
  th, td { padding: 4px 6px; }
}
`
