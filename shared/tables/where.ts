/**
 * Checks that an operator-written `where` is one self-contained condition: it is pasted between
 * parentheses into every DELETE, so a `)` that closes them early (`x) OR (y`), a comment that
 * swallows the conditions after it (`true --`), or a second statement (`;`) would change what
 * gets deleted, e.g. drop the age limit. Postgres itself then parses what is left (see inspect.ts);
 * this only guards the splice, which Postgres cannot see.
 *
 * Returns the problem, or undefined when the text is safe to splice.
 */
export function wherePasteProblem(where: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < where.length; i += 1) {
    const c = where[i]!;
    const next = where[i + 1];
    if (c === "'") {
      // E'…' strings take backslash escapes; plain ones only the doubled quote.
      const escapes = /[eE]/.test(where[i - 1] ?? '') && !/[A-Za-z0-9_]/.test(where[i - 2] ?? '');
      i = skipQuoted(where, i, "'", escapes);
      if (i < 0) return 'a string literal is not closed';
    } else if (c === '"') {
      i = skipQuoted(where, i, '"', false);
      if (i < 0) return 'a quoted identifier is not closed';
    } else if (c === '(') depth += 1;
    else if (c === ')') {
      depth -= 1;
      if (depth < 0) return 'a ")" closes a parenthesis the condition did not open';
    } else if (c === ';') return 'it contains ";" — give one condition, not statements';
    else if ((c === '-' && next === '-') || (c === '/' && next === '*')) return 'it contains a comment ("--" or "/*")';
    else if (c === '$') return 'it contains "$" (dollar quoting or a parameter) — write the value as a literal';
  }
  return depth === 0 ? undefined : 'a "(" is not closed';
}

/** The index of the closing quote of the quoted run starting at `start`, or -1. */
function skipQuoted(text: string, start: number, quote: string, backslashEscapes: boolean): number {
  for (let i = start + 1; i < text.length; i += 1) {
    if (backslashEscapes && text[i] === '\\') {
      i += 1;
      continue;
    }
    if (text[i] === quote) {
      if (text[i + 1] === quote) {
        i += 1;
        continue;
      }
      return i;
    }
  }
  return -1;
}
