// The few pages delivery serves to people (unsubscribe, preferences, the local outbox): plain
// HTML, no scripts.
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.75rem}iframe{width:100%;height:40rem;border:1px solid #ccc}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}
