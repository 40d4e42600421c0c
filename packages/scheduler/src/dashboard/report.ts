/**
 * `performanceReport`: the dashboard page as one standalone HTML file, with the task stream of a
 * block of work frozen inside it. It reuses the live page's script (in its report mode) and
 * inlines uPlot, so the file opens anywhere, offline, and can be mailed or attached to an issue.
 */
import type { DashboardSnapshot } from "./snapshot.js";
import type { TaskStreamEvent } from "./task-stream.js";

export interface ReportData {
  readonly title: string;
  /** Epoch ms of the start and end of the block. */
  readonly from: number;
  readonly to: number;
  readonly snapshot: DashboardSnapshot;
  readonly stream: readonly TaskStreamEvent[];
  readonly loadHistory: readonly { t: number; p99: number; cpu: number }[];
}

/** Assets by name, as the dashboard loads them: index.html, app.js, style.css, uPlot.iife.min.js, uPlot.min.css. */
export type AssetText = (name: string) => string;

export function renderReport(data: ReportData, asset: AssetText): string {
  let html = asset("index.html").replaceAll("?token=%TOKEN%", "");
  html = html.replace(/<link rel="stylesheet" href="assets\/([^"]+)">/g, (_all, name: string) => `<style>\n${asset(name)}\n</style>`);
  html = html.replace(/<script src="assets\/([^"]+)"><\/script>/g, (_all, name: string) => {
    const script = `<script>\n${safeInScript(asset(name))}\n</script>`;
    // The data goes in just before the page's own script, which then draws it instead of connecting.
    return name === "app.js" ? `<script>window.SKEIN_REPORT = ${safeInScript(JSON.stringify(data))};</script>\n${script}` : script;
  });
  return html.replace(/<title>[^<]*<\/title>/, `<title>${escapeHtml(data.title)}</title>`);
}

/** Text that cannot end the <script> element it sits in. */
function safeInScript(text: string): string {
  return text.replaceAll("</", "<\\/").replaceAll("\u2028", "\\u2028").replaceAll("\u2029", "\\u2029");
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
