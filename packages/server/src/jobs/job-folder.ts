// A job's folder, `<home>/jobs/<id>/`: `inputs/` holds what the job reads (links to the objects its parameters
// name on this server, downloads on a remote worker, and the config file the server writes) and `run/` what its
// command writes, kept across attempts. Every path a job shows (its result, its events) is relative to this
// folder, and the server reads a job's outputs from its own `run/` folder only.
import { existsSync, mkdirSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { AppError } from '../errors.ts';

export const jobDirectory = (home: string, jobId: string) => join(home, 'jobs', jobId);

/** Where the config file a job's command reads lies in its folder (one of its inputs, `config`). */
export const JOB_CONFIG = 'inputs/config/config.json';

/** A relative path of plain names from a URL or a worker (never `..`, `.`, empty or absolute), with `sep`. */
export function safeRelative(raw: string, field: string): string {
  const segments = raw.split('/');
  if (raw === '' || segments.some((s) => s === '' || s === '.' || s === '..' || !/^[\w.@+-]+$/.test(s)))
    throw new AppError(
      'invalid_request',
      `${field} must be a relative path of plain names, got '${raw}'`,
      field,
    );
  return segments.join(sep);
}

/** Where an input lies in the job folder: a folder as `inputs/<name>`, a file as `inputs/<name>/<its name>`. */
export function inputPath(name: string, root: string): string {
  return statSync(root).isDirectory() ? `inputs/${name}` : `inputs/${name}/${basename(root)}`;
}

/**
 * Links each input (by name, its path on this server) at its place in the job folder, as local workers run; one
 * written there already (the config file) stays.
 */
export function linkJobInputs(jobDir: string, roots: Record<string, string>): void {
  for (const [name, root] of Object.entries(roots)) {
    const link = join(jobDir, inputPath(name, root));
    if (link === root) continue;
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(root, link);
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `folder` followed by a separator, or by anything that cannot continue a name (so /a/b never matches /a/bc). */
const folderPattern = (folder: string) =>
  new RegExp(`${escape(folder)}(?:(${escape(sep)})|(?![\\w.@+-]))`, 'g');

/**
 * `value` (a string, or JSON holding strings) with every path under one of `folders` made relative to it, in
 * order: `<folder>/run/x` becomes `run/x` and the folder itself `.`. How a job's paths are shown without the
 * machine's folders (the job folder first, then the data folder for any path that reached past it).
 */
export function relativeTo<T>(value: T, folders: readonly string[]): T {
  if (typeof value === 'string')
    return folders.reduce(
      (text, folder) =>
        text.replace(folderPattern(folder), (_: string, below: string | undefined) => (below ? '' : '.')),
      value as string,
    ) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => relativeTo(item, folders)) as T;
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, relativeTo(item, folders)]),
    ) as T;
  return value;
}

/**
 * The file or folder a job made, named relative to its folder (`run/adapter.gguf`), as stored on this server: its
 * `run/` folder or something in it (after links are followed), present. Anything else — an absolute path, `..`, another
 * job's files, a file a remote worker did not upload — is a 400 naming `field`.
 */
export function jobArtifact(jobDir: string, name: unknown, field: string): string {
  const refuse = (why: string) =>
    new AppError(
      'invalid_request',
      `${field} must name what the job made in its run folder (run/…, uploaded by a remote worker); ${why}`,
      field,
    );
  if (typeof name !== 'string') throw refuse(`got ${JSON.stringify(name)}`);
  const relativePath = safeRelative(name, field);
  const runDir = join(jobDir, 'run');
  const path = join(jobDir, relativePath);
  const inside = (candidate: string, folder: string) =>
    candidate === folder || candidate.startsWith(`${folder}${sep}`);
  if (!inside(path, runDir)) throw refuse(`'${name}' is outside it`);
  if (!existsSync(path)) throw refuse(`'${name}' is not there`);
  if (!inside(realpathSync(path), realpathSync(runDir))) throw refuse(`'${name}' leads outside it`);
  return path;
}
