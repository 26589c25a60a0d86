/**
 * Finds the stable error codes of the source tree and the codes listed in docs/errors.md, so a
 * test can check that every code is documented exactly once.
 *
 * Sources are read with the TypeScript parser (no regexes over code: comments, SQL text and
 * environment variable names never count). A string literal counts as an error code only in
 * one of these places:
 * 1. the first argument of `new SyncError('CODE', ...)`;
 * 2. a property value of a constant object of codes: `const XxxErrorCode = { Key: 'CODE' }`
 *    (any `const` whose name ends in `Code`/`Codes`/`CODES`, e.g. `STORE_ERROR_CODES`);
 * 3. a `code: 'CODE'` property (error frames, `{ error: { code } }` bodies, failure objects);
 * 4. the fallback of a conditional whose other branch is `<x>.code`
 *    (`isSyncError(e) ? e.code : 'PROTOCOL_INVALID_MESSAGE'`);
 * 5. an argument of a call to a helper of the same file that takes a code: at a first
 *    parameter named `code` (`refuse('PATH_NUL', ...)`, `this.report('WATCH_ERROR', ...)`),
 *    or at a parameter the helper uses as the fallback of 4 (`codeOf(err, 'CLIENT_ERROR')`).
 * Only UPPER_SNAKE literals count, and Node's errno names (ENOENT, ...) never do.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** What the docs and the scan accept as a code. */
export const CODE_PATTERN = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

const ERRNO_NAMES: ReadonlySet<string> = new Set(Object.keys(osConstants.errno));

/** One place a code was found. */
export interface CodeSite {
  code: string;
  /** Repository-relative path, '/'-separated. */
  file: string;
  line: number;
}

/** Every `.ts` and `.tsx` file below `dir` (node_modules and dist are skipped). */
export function listSourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSourceFiles(path));
    else if (entry.isFile() && /\.tsx?$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

function literalText(node: ts.Node | undefined): string | null {
  if (!node) return null;
  let inner: ts.Node = node;
  while (ts.isParenthesizedExpression(inner) || ts.isAsExpression(inner) || ts.isSatisfiesExpression(inner)) {
    inner = inner.expression;
  }
  if (ts.isStringLiteral(inner) || ts.isNoSubstitutionTemplateLiteral(inner)) return inner.text;
  return null;
}

function isCodeLiteral(text: string | null): text is string {
  return text !== null && CODE_PATTERN.test(text) && !ERRNO_NAMES.has(text);
}

function propertyNameText(name: ts.PropertyName): string | null {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  return null;
}

function unwrapObject(node: ts.Expression | undefined): ts.ObjectLiteralExpression | null {
  let inner: ts.Node | undefined = node;
  while (inner && (ts.isParenthesizedExpression(inner) || ts.isAsExpression(inner) || ts.isSatisfiesExpression(inner))) {
    inner = inner.expression;
  }
  return inner && ts.isObjectLiteralExpression(inner) ? inner : null;
}

function isCodeAccess(node: ts.Expression): boolean {
  return ts.isPropertyAccessExpression(node) && node.name.text === 'code';
}

/** `a ? x.code : b` or `a ? b : x.code`: the branch that is not the `.code`, else null. */
function codeFallback(node: ts.ConditionalExpression): ts.Expression | null {
  if (isCodeAccess(node.whenTrue)) return node.whenFalse;
  if (isCodeAccess(node.whenFalse)) return node.whenTrue;
  return null;
}

/**
 * Same-file helpers that take a code, by name, with the argument positions that hold it: a
 * first parameter named `code`, or a parameter used as the fallback of `x.code` (`codeOf(err,
 * fallback)`). Functions, methods and function-valued variables count.
 */
function codeHelpers(source: ts.SourceFile): Map<string, Set<number>> {
  const helpers = new Map<string, Set<number>>();
  const positionsOf = (fn: ts.SignatureDeclaration & { body?: ts.Node }): Set<number> => {
    const positions = new Set<number>();
    const names = fn.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : null));
    if (names[0] === 'code') positions.add(0);
    const visitBody = (node: ts.Node): void => {
      if (ts.isConditionalExpression(node)) {
        const other = codeFallback(node);
        if (other && ts.isIdentifier(other) && names.includes(other.text)) positions.add(names.indexOf(other.text));
      }
      ts.forEachChild(node, visitBody);
    };
    if (fn.body) visitBody(fn.body);
    return positions;
  };
  const note = (name: string, positions: Set<number>) => {
    if (positions.size > 0) helpers.set(name, new Set([...(helpers.get(name) ?? []), ...positions]));
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name && ts.isIdentifier(node.name)) {
      note(node.name.text, positionsOf(node));
    } else if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      const init = node.initializer;
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) note(node.name.text, positionsOf(init));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return helpers;
}

function calleeName(call: ts.CallExpression): string | null {
  const callee = call.expression;
  if (ts.isIdentifier(callee)) return callee.text;
  if (ts.isPropertyAccessExpression(callee) && callee.expression.kind === ts.SyntaxKind.ThisKeyword) return callee.name.text;
  return null;
}

/** The code sites of one file's text (see the module comment for what counts). */
export function scanSourceText(text: string, file: string): CodeSite[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const helpers = codeHelpers(source);
  const sites: CodeSite[] = [];
  const add = (code: string | null, at: ts.Node) => {
    if (!isCodeLiteral(code)) return;
    sites.push({ code, file, line: source.getLineAndCharacterOfPosition(at.getStart(source)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'SyncError') {
      add(literalText(node.arguments?.[0]), node);
    } else if (ts.isCallExpression(node)) {
      const name = calleeName(node);
      for (const position of (name !== null && helpers.get(name)) || []) add(literalText(node.arguments[position]), node);
    } else if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && /codes?$/i.test(node.name.text)) {
      const object = unwrapObject(node.initializer);
      for (const property of object?.properties ?? []) {
        if (ts.isPropertyAssignment(property)) add(literalText(property.initializer), property);
      }
    } else if (ts.isPropertyAssignment(node) && propertyNameText(node.name) === 'code') {
      add(literalText(node.initializer), node);
    } else if (ts.isConditionalExpression(node)) {
      add(literalText(codeFallback(node) ?? undefined), node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

/** Code sites of every `.ts` file under `roots` (paths relative to `repoRoot`). */
export function scanSources(repoRoot: string, roots: readonly string[]): CodeSite[] {
  const sites: CodeSite[] = [];
  for (const root of roots) {
    for (const path of listSourceFiles(join(repoRoot, root))) {
      const file = relative(repoRoot, path).split('\\').join('/');
      sites.push(...scanSourceText(readFileSync(path, 'utf8'), file));
    }
  }
  return sites;
}

/** One row of a code table in the docs. */
export interface DocumentedCode {
  code: string;
  line: number;
  /** The `## ` heading the row sits under. */
  section: string;
}

/**
 * The codes in the first column of the doc's code tables: tables whose header's first cell
 * is `code`. A cell is one code in backticks.
 */
export function documentedCodes(markdown: string): DocumentedCode[] {
  const rows: DocumentedCode[] = [];
  let section = '';
  let inCodeTable = false;
  markdown.split(/\r?\n/).forEach((text, index) => {
    if (text.startsWith('## ')) section = text.slice(3).trim();
    if (!text.startsWith('|')) {
      inCodeTable = false;
      return;
    }
    const first = text.split('|')[1]?.trim() ?? '';
    if (!inCodeTable) {
      inCodeTable = first.toLowerCase() === 'code';
      return;
    }
    const match = /^`([^`]+)`$/.exec(first);
    if (match) rows.push({ code: match[1]!, line: index + 1, section });
  });
  return rows;
}
