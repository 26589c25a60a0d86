/**
 * A static check of the Dockerfile rules that matter for the relay image (hadolint is not
 * installable on these machines: its npm package downloads a binary at install time).
 *
 * Rules, each with a stable id:
 * - DF_PINNED_BASE: every FROM names a version tag or digest, never `latest` or no tag.
 * - DF_NON_ROOT: the final stage switches to a user other than root.
 * - DF_HEALTHCHECK: the final stage has a HEALTHCHECK.
 * - DF_NO_SECRETS: no ENV or ARG sets a password, token, secret or key.
 * - DF_NO_REMOTE_ADD: ADD never fetches a URL (use a checked download instead).
 * - DF_NPM_CI: dependencies are installed with `npm ci`, not `npm install`.
 */
export interface DockerfileFinding {
  rule: string;
  line: number;
  message: string;
}

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Splits a Dockerfile into instructions, joining `\` continuation lines. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let current = lines[i]!;
    if (/^\s*(#|$)/.test(current)) continue;
    while (/\\\s*$/.test(current) && i + 1 < lines.length) {
      current = current.replace(/\\\s*$/, ' ') + lines[++i]!.trim();
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(current);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 });
  }
  return instructions;
}

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;

export function checkDockerfile(text: string): DockerfileFinding[] {
  const findings: DockerfileFinding[] = [];
  const instructions = parseDockerfile(text);
  const stageStarts = instructions.filter((i) => i.keyword === 'FROM');
  const stageNames = new Set(stageStarts.map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1]).filter(Boolean));
  for (const from of stageStarts) {
    const image = from.args.replace(/--platform=\S+\s+/, '').split(/\s+/)[0]!;
    if (stageNames.has(image)) continue;
    const pinned = image.includes('@sha256:') || /:[^:/]*\d[^:/]*$/.test(image);
    if (!pinned || /:latest$/.test(image)) {
      findings.push({ rule: 'DF_PINNED_BASE', line: from.line, message: `base image ${image} is not pinned to a version` });
    }
  }
  const lastFrom = stageStarts.at(-1);
  const finalStage = lastFrom ? instructions.filter((i) => i.line >= lastFrom.line) : [];
  const lastUser = finalStage.filter((i) => i.keyword === 'USER').at(-1);
  if (!lastUser || /^(root|0)(:|$)/.test(lastUser.args)) {
    findings.push({ rule: 'DF_NON_ROOT', line: lastUser?.line ?? 0, message: 'the final stage runs as root' });
  }
  if (!finalStage.some((i) => i.keyword === 'HEALTHCHECK' && !/^NONE\b/i.test(i.args))) {
    findings.push({ rule: 'DF_HEALTHCHECK', line: 0, message: 'the final stage has no HEALTHCHECK' });
  }
  for (const i of instructions) {
    if ((i.keyword === 'ENV' || i.keyword === 'ARG') && SECRET_NAME.test(i.args)) {
      findings.push({ rule: 'DF_NO_SECRETS', line: i.line, message: `${i.keyword} looks like a secret: ${i.args.split(/[=\s]/)[0]}` });
    }
    if (i.keyword === 'ADD' && /https?:\/\//.test(i.args)) {
      findings.push({ rule: 'DF_NO_REMOTE_ADD', line: i.line, message: 'ADD fetches a URL' });
    }
    if (i.keyword === 'RUN' && /\bnpm\s+(install|i)\b(?!-)/.test(i.args)) {
      findings.push({ rule: 'DF_NPM_CI', line: i.line, message: 'use npm ci, not npm install' });
    }
  }
  return findings;
}
