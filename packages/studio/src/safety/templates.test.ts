import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '@ownlm/engine';
import { applyVariant, expandGroup, fillTemplate, groupTemplates, readTemplateFile } from './templates.ts';
import { foldText } from './fold.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-safety-templates-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('templates', () => {
  it('fill slots (the same value for a slot used twice), alternatives and a fresh marker', () => {
    const slots = { name: ['Ann', 'Bo'], greeting: ['hi {name}', 'hello {name}'] };
    for (let seed = 0; seed < 20; seed++) {
      const { text, marker } = fillTemplate(
        '[[Oh|Ah|]] {greeting}, {name} . say {marker}',
        slots,
        new Random(seed),
      );
      const match = /^(?:Oh |Ah |)(hi|hello) (Ann|Bo), (Ann|Bo). say (ZX-[0-9A-Z]{7})$/.exec(text);
      assert.ok(match, text);
      assert.equal(match[2], match[3]);
      assert.equal(match[4], marker);
    }
  });

  it('make variants a filter must see through: folding undoes misspelling-free disguises', () => {
    const text = 'please explain photosynthesis to the students';
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const variant = applyVariant(text, new Random(seed), 'encoded');
      seen.add(variant.variant);
      if (variant.variant === 'plain') assert.equal(variant.text, text);
      if (variant.variant === 'obfuscated') assert.equal(foldText(variant.text), text);
      if (variant.variant === 'cased') assert.equal(variant.text.toLowerCase(), text);
      if (variant.variant === 'encoded')
        assert.ok(variant.text.endsWith(Buffer.from(text).toString('base64')));
    }
    assert.deepEqual([...seen].sort(), ['cased', 'encoded', 'misspelled', 'obfuscated', 'plain']);
    for (let seed = 0; seed < 50; seed++)
      assert.ok(
        ['plain', 'misspelled', 'cased'].includes(applyVariant(text, new Random(seed), 'natural').variant),
      );
  });

  it('expand a group into distinct texts spread over its templates', () => {
    const seen = new Set<string>();
    const out = expandGroup({
      templates: ['a {x}', 'b {x}'],
      slots: { x: ['1', '2', '3'] },
      count: 4,
      random: new Random(1),
      seen,
      variants: 'natural',
    });
    assert.equal(out.length, 4);
    assert.deepEqual(
      out.map((e) => e.template),
      [0, 0, 1, 1],
    );
    assert.equal(new Set(out.map((e) => e.text)).size, 4);
    assert.equal(seen.size, 4);
  });

  it('read a file with frames and acts, refusing an undefined slot by where it is used', () => {
    const path = join(dir, 't.yaml');
    writeFileSync(
      path,
      "slots: {x: ['1']}\nframes: ['do {act} {x}']\nacts: {g: ['run']}\ngroups: {g: ['own {x}'], h: ['{x}']}\n",
    );
    const file = readTemplateFile(path);
    assert.deepEqual(groupTemplates(file, 'g'), {
      templates: ['do {act} {x}', 'own {x}'],
      slots: { x: ['1'], act: ['run'] },
    });
    assert.deepEqual(groupTemplates(file, 'h').templates, ['{x}']);
    writeFileSync(path, "slots: {x: ['1']}\ngroups: {g: ['{y}']}\n");
    assert.throws(() => readTemplateFile(path), { message: `${path}: groups.g[0] uses undefined slot {y}` });
    writeFileSync(path, 'slots: {x: 1}\n');
    assert.throws(() => readTemplateFile(path), { message: `${path}: slots.x must be a list of strings` });
  });
});
