// A minimal XML well-formedness checker for the SVG tests (no dependency): prolog, comments, one
// root element, balanced and properly nested tags, quoted and unique attributes, valid entity and
// character references, no stray '<' or '&' in text. Returns the element names with their attributes.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*/;

function checkText(s: string, where: number): string {
  if (s.includes('<')) throw new Error(`stray '<' in text at ${where}`);
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);|&/g, (_m, ref: string | undefined) => {
    if (!ref) throw new Error(`bare '&' at ${where}`);
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (!(ref in named)) throw new Error(`unknown entity &${ref}; at ${where}`);
    return named[ref]!;
  });
}

/** Parses `xml` or throws with the position of the first well-formedness error. */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const skipMisc = (): void => {
    for (;;) {
      const ws = /^\s*/.exec(xml.slice(i))![0].length;
      i += ws;
      if (xml.startsWith('<?', i)) {
        const e = xml.indexOf('?>', i);
        if (e < 0) throw new Error(`unterminated processing instruction at ${i}`);
        i = e + 2;
      } else if (xml.startsWith('<!--', i)) {
        const e = xml.indexOf('-->', i);
        if (e < 0) throw new Error(`unterminated comment at ${i}`);
        i = e + 3;
      } else return;
    }
  };
  skipMisc();
  while (i < xml.length) {
    if (xml.startsWith('<!--', i)) {
      const e = xml.indexOf('-->', i);
      if (e < 0) throw new Error(`unterminated comment at ${i}`);
      i = e + 3;
      continue;
    }
    if (xml[i] === '<') {
      if (xml[i + 1] === '/') {
        const m = NAME.exec(xml.slice(i + 2));
        if (!m) throw new Error(`bad end tag at ${i}`);
        const top = stack.pop();
        if (!top || top.name !== m[0]) throw new Error(`end tag </${m[0]}> at ${i} does not match <${top?.name ?? '(none)'}>`);
        i += 2 + m[0].length;
        const ws = /^\s*>/.exec(xml.slice(i));
        if (!ws) throw new Error(`bad end tag </${m[0]}> at ${i}`);
        i += ws[0].length;
        if (stack.length === 0) { skipMisc(); if (i < xml.length) throw new Error(`content after the root element at ${i}`); }
        continue;
      }
      const m = NAME.exec(xml.slice(i + 1));
      if (!m) throw new Error(`bad start tag at ${i}`);
      if (root && stack.length === 0) throw new Error(`second root element at ${i}`);
      const el: XmlElement = { name: m[0], attrs: {}, text: '', children: [] };
      const parent = stack[stack.length - 1];
      i += 1 + m[0].length;
      let open = false;
      for (;;) {
        const ws = /^\s*/.exec(xml.slice(i))![0].length;
        i += ws;
        if (xml.startsWith('/>', i)) { i += 2; break; }
        if (xml[i] === '>') { i += 1; open = true; break; }
        if (ws === 0) throw new Error(`missing space before attribute in <${el.name}> at ${i}`);
        const a = /^([A-Za-z_:][A-Za-z0-9_.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(xml.slice(i));
        if (!a) throw new Error(`bad attribute in <${el.name}> at ${i}: ${xml.slice(i, i + 30)}`);
        if (a[1]! in el.attrs) throw new Error(`duplicate attribute ${a[1]} in <${el.name}> at ${i}`);
        el.attrs[a[1]!] = checkText(a[3] ?? a[4] ?? '', i);
        i += a[0].length;
      }
      if (parent) parent.children.push(el);
      if (!root) root = el;
      if (open) { stack.push(el); continue; }
      if (stack.length === 0) { skipMisc(); if (i < xml.length) throw new Error(`content after the root element at ${i}`); }
      continue;
    }
    const e = xml.indexOf('<', i);
    const text = xml.slice(i, e < 0 ? xml.length : e);
    if (stack.length === 0) throw new Error(`text outside the root element at ${i}`);
    stack[stack.length - 1]!.text += checkText(text, i);
    i = e < 0 ? xml.length : e;
  }
  if (stack.length) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

/** Every element in document order. */
export function allElements(el: XmlElement): XmlElement[] {
  return [el, ...el.children.flatMap(allElements)];
}
