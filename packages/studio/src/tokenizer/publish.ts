// Output folders appear whole or not at all: work is written into a temporary sibling folder, which replaces
// the destination by rename only once complete, so an interrupted or failed run leaves what was there before.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DataError } from '../data/errors.ts';

/**
 * Checks that `outDir` may be written (absent, empty, or `overwrite`) and creates the temporary folder to
 * fill, before any work is done.
 */
export function startOutput(outDir: string, overwrite: boolean): string {
  const target = resolve(outDir);
  if (existsSync(target) && readdirSync(target).length > 0 && !overwrite) {
    throw new DataError(
      'output-exists',
      `${outDir} already exists and is not empty; pass --force to replace it`,
    );
  }
  mkdirSync(dirname(target), { recursive: true });
  const temp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(temp);
  return temp;
}

/** Moves the finished temporary folder into place, replacing what was there. */
export function finishOutput(temp: string, outDir: string): void {
  const target = resolve(outDir);
  const old = `${temp}.old`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(temp, target);
  rmSync(old, { recursive: true, force: true });
}

/** Removes the temporary folder of a failed run. */
export function abandonOutput(temp: string): void {
  rmSync(temp, { recursive: true, force: true });
}
