// Saving model folders: what is written reads back as the same model (F32 exactly, BF16 to its rounding), under the
// checkpoint names save_pretrained uses, with the tokenizer and chat template carried over; a fresh folder's random
// weights follow the seed.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDir } from '../../../../../test/helpers.js';
import { bf16BitsToF32, f32ToBf16Bits, writeHfModel } from '../../../../../test/hf-fixtures.js';
import { readSafetensorsHeader } from '../../safetensors.js';
import { readHfModelFolder } from './folder.js';
import { createHfModelFolder, saveHfModelFolder } from './save.js';

describe('saving Hugging Face model folders', () => {
  for (const modelType of ['gpt2', 'qwen3'] as const)
    it(`${modelType}: F32 round-trips exactly and BF16 to the nearest bfloat16`, async () => {
      const dir = testDir(`hf-save-${modelType}`);
      await writeHfModel(join(dir, 'src'), { modelType, separateChatTemplate: modelType === 'qwen3' });
      const src = await readHfModelFolder(join(dir, 'src'));
      await saveHfModelFolder(join(dir, 'f32'), src);
      const f32 = await readHfModelFolder(join(dir, 'f32'));
      expect(f32.sha256).toBe(src.sha256);
      expect(await readdir(join(dir, 'f32'))).toEqual(expect.arrayContaining(['config.json', 'tokenizer.json']));
      const header = await readSafetensorsHeader(join(dir, 'f32', 'model.safetensors'));
      const prefix = modelType === 'gpt2' ? 'transformer.' : 'model.';
      expect(Object.keys(header.tensors).every((n) => n.startsWith(prefix) || n === 'lm_head.weight')).toBe(true);

      await saveHfModelFolder(join(dir, 'bf16'), src, { dtype: 'BF16' });
      const bf16 = await readHfModelFolder(join(dir, 'bf16'));
      expect(JSON.parse(await readFile(join(dir, 'bf16', 'config.json'), 'utf8')).torch_dtype).toBe('bfloat16');
      for (const s of src.weights.specs) {
        const a = src.weights.tensors.get(s.name)!;
        const b = bf16.weights.tensors.get(s.name)!;
        for (let i = 0; i < a.length; i += 97) expect(b[i]).toBe(bf16BitsToF32(f32ToBf16Bits(a[i])));
      }
      expect(bf16.tokenizer.sha256).toBe(src.tokenizer.sha256);
      await expect(saveHfModelFolder(join(dir, 'src'), src)).rejects.toThrow(/will not overwrite/);
    });

  it('a fresh folder has the config shapes, norms of 1 and seeded normal weights', async () => {
    const dir = testDir('hf-create');
    await writeHfModel(join(dir, 'src'), { modelType: 'llama' });
    const config = JSON.parse(await readFile(join(dir, 'src', 'config.json'), 'utf8'));
    const files = { 'tokenizer.json': join(dir, 'src', 'tokenizer.json') };
    await createHfModelFolder(join(dir, 'a'), { config, files, seed: 3, std: 0.05 });
    await createHfModelFolder(join(dir, 'b'), { config, files, seed: 3, std: 0.05 });
    await createHfModelFolder(join(dir, 'c'), { config, files, seed: 4, std: 0.05 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => readHfModelFolder(join(dir, n))));
    expect(a.sha256).toBe(b.sha256);
    expect(a.sha256).not.toBe(c.sha256);
    expect([...a.weights.tensors.get('norm.weight')!].every((v) => v === 1)).toBe(true);
    const q = a.weights.tensors.get('layers.0.self_attn.q_proj.weight')!;
    const sd = Math.sqrt(q.reduce((s, v) => s + v * v, 0) / q.length);
    expect(sd).toBeGreaterThan(0.045);
    expect(sd).toBeLessThan(0.055);
    await expect(
      createHfModelFolder(join(dir, 'd'), { config, files: { 'weights.bin': files['tokenizer.json'] }, seed: 1 }),
    ).rejects.toThrow(/not a tokenizer or generation file/);
  });
});
