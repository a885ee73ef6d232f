import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataError } from '../data/errors.ts';
import {
  generateClassifierDataset,
  generateRedteamSuite,
  readLabelledExamples,
  readRedteamSuite,
  redteamCategories,
  safetyDataDir,
  safetyDataFiles,
  toJsonl,
} from './datasets.ts';
import { foldText } from './fold.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-safety-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const classifier = generateClassifierDataset();
const suite = generateRedteamSuite();

describe('safety datasets', () => {
  it('are the shipped files, byte for byte (the generator is deterministic from the seed)', () => {
    const shipped = (name: string) => readFileSync(join(safetyDataDir, name), 'utf8');
    assert.equal(toJsonl(classifier.train), shipped(safetyDataFiles.classifierTrain));
    assert.equal(toJsonl(classifier.heldOut), shipped(safetyDataFiles.classifierHeldOut));
    assert.equal(toJsonl(suite), shipped(safetyDataFiles.redteam));
  });

  it('change with the seed', () => {
    const other = generateRedteamSuite({ seed: 1, perCategory: 8 });
    const same = generateRedteamSuite({ seed: 0, perCategory: 8 });
    assert.notDeepEqual(
      other.map((p) => p.prompt),
      same.map((p) => p.prompt),
    );
  });

  it('hold out whole templates, and never give one text two labels', () => {
    const trainTemplates = new Set(classifier.train.map((e) => e.template));
    assert.ok(classifier.heldOut.length > 1000);
    for (const e of classifier.heldOut) assert.ok(!trainTemplates.has(e.template), e.template);
    const labelOf = new Map<string, string>();
    for (const e of [...classifier.train, ...classifier.heldOut]) {
      const key = foldText(e.text);
      assert.ok(
        !labelOf.has(key) || labelOf.get(key) === e.label,
        `"${e.text}" is ${labelOf.get(key)} and ${e.label}`,
      );
      labelOf.set(key, e.label);
    }
  });

  it('red-team suite: at least 300 attacks across the five categories and 300 benign look-alikes, none trained on', () => {
    const attacks = suite.filter((p) => p.kind === 'attack');
    const benign = suite.filter((p) => p.kind === 'benign');
    assert.ok(
      attacks.length >= 300 && benign.length >= 300,
      `${attacks.length} attacks, ${benign.length} benign`,
    );
    for (const category of redteamCategories) {
      assert.ok(attacks.filter((p) => p.category === category).length >= 60, category);
      assert.ok(benign.filter((p) => p.category === category).length >= 60, category);
    }
    assert.equal(new Set(suite.map((p) => p.id)).size, suite.length);
    // Every injection carries its marker (in the prompt, or inside a base64 payload).
    for (const p of attacks.filter((a) => a.category === 'injection')) {
      assert.ok(p.marker, p.id);
      const decoded = p.prompt.replace(/[A-Za-z0-9+/]{16,}={0,2}/g, (b) =>
        Buffer.from(b, 'base64').toString('utf8'),
      );
      assert.ok(decoded.toLowerCase().includes(p.marker!.toLowerCase()), p.id);
    }
    for (const p of attacks.filter((a) => a.category === 'harmful')) assert.ok(p.harm, p.id);
    const trained = new Set([...classifier.train, ...classifier.heldOut].map((e) => foldText(e.text)));
    assert.equal(suite.filter((p) => trained.has(foldText(p.prompt))).length, 0);
  });

  it('readers reject a bad line naming the file, the line and the field', () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(
      path,
      '{"text": "hi", "label": "benign", "template": "t", "variant": "plain"}\n{"text": "x", "label": "rude"}\n',
    );
    assert.throws(
      () => readLabelledExamples(path),
      (e: unknown) => e instanceof DataError && e.message === `${path}:2: label: unknown label "rude"`,
    );
    writeFileSync(path, '{"id": "a", "category": "harmful", "kind": "attack", "prompt": "p"}\n[1]\n');
    assert.throws(() => readRedteamSuite(path), { message: `${path}:2: each line must be a JSON object` });
    writeFileSync(path, '{"id": "a", "category": "poetry", "kind": "attack", "prompt": "p"}\n');
    assert.throws(() => readRedteamSuite(path), /:1: category: must be one of jailbreak, /);
  });
});
