import type { ComponentChildren } from 'preact';

/**
 * A tiny, safe markdown renderer for run notes: headings, paragraphs, bold/italic, inline and fenced
 * code, bullet and numbered lists, and links (http/https only). It builds virtual DOM nodes, never an
 * HTML string, so user text is always text: `<script>` shows as the characters it is.
 */
export function Markdown({ text }: { text: string }) {
  return <div class="markdown">{blocks(text)}</div>;
}

function blocks(text: string): ComponentChildren[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const out: ComponentChildren[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = /^\s*```/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !/^\s*```/.test(lines[i])) body.push(lines[i++]);
      i++; // closing fence (or end of text)
      out.push(
        <pre key={out.length}>
          <code>{body.join('\n')}</code>
        </pre>,
      );
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const Tag = `h${Math.min(6, heading[1].length + 2)}` as 'h3';
      out.push(<Tag key={out.length}>{inline(heading[2].replace(/\s+#+\s*$/, ''))}</Tag>);
      i++;
      continue;
    }
    const listItem = /^\s*([-*+]|\d+[.)])\s+/;
    if (listItem.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items: string[] = [];
      while (i < lines.length && listItem.test(lines[i]) && /^\s*\d/.test(lines[i]) === ordered) {
        items.push(lines[i].replace(listItem, ''));
        i++;
        // continuation lines (indented, not a new item)
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !listItem.test(lines[i])) items[items.length - 1] += ` ${lines[i++].trim()}`;
      }
      const lis = items.map((it, k) => <li key={k}>{inline(it)}</li>);
      out.push(ordered ? <ol key={out.length}>{lis}</ol> : <ul key={out.length}>{lis}</ul>);
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim() !== '' && !/^\s*```/.test(lines[i]) && !/^#{1,6}\s/.test(lines[i]) && !listItem.test(lines[i])) para.push(lines[i++]);
    out.push(<p key={out.length}>{inline(para.join('\n'))}</p>);
  }
  return out;
}

const SAFE_URL = /^https?:\/\/[^\s]+$/i;

/** Inline spans: `code`, **bold**, __bold__, *italic*, _italic_, [text](url). */
export function inline(s: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  const re = /`([^`]+)`|\*\*(.+?)\*\*|(?<![\w])__(.+?)__(?![\w])|\*([^*\s](?:[^*]*[^*\s])?)\*|(?<![\w])_([^_\s](?:[^_]*[^_\s])?)_(?![\w])|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    if (m.index > last) out.push(s.slice(last, m.index));
    const k = out.length;
    if (m[1] !== undefined) out.push(<code key={k}>{m[1]}</code>);
    else if (m[2] !== undefined || m[3] !== undefined) out.push(<strong key={k}>{inline(m[2] ?? m[3])}</strong>);
    else if (m[4] !== undefined || m[5] !== undefined) out.push(<em key={k}>{inline(m[4] ?? m[5])}</em>);
    else if (SAFE_URL.test(m[7]))
      out.push(
        <a key={k} href={m[7]} target="_blank" rel="noopener noreferrer nofollow">
          {inline(m[6])}
        </a>,
      );
    else out.push(m[0]); // a link to anything but http(s) stays plain text
    last = re.lastIndex;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}
