/**
 * `@sluice/interop/node`: files and checkpoint folders on disk (Node only):
 * streamed reads and atomic writes, sharded checkpoints and their index checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {readCheckpoint, readSafetensorsFile, readSafetensorsFileHeader, writeCheckpoint,
        writeSafetensorsFile} from '../node';
import {readSafetensors} from '../safetensors';

function floats(n: number, offset = 0) {
  return {dtype: 'float32' as const, shape: [n], values: Float32Array.from({length: n}, (_, i) => i + offset)};
}

export function describeSafetensorsFiles() {
  describe('safetensors files and checkpoints (@sluice/interop/node)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'sluice-interop-'));
    });
    afterEach(() => rmSync(dir, {recursive: true, force: true}));

    it('writes a file tensor by tensor and reads it back, header alone or whole', async () => {
      const file = path.join(dir, 'w.safetensors');
      await writeSafetensorsFile(file, {a: floats(5), b: tf.tensor2d([[1, 2]])}, {format: 'pt'});
      expect(readdirSync(dir)).toEqual(['w.safetensors']);  // no temporary file left
      const header = await readSafetensorsFileHeader(file);
      expect(header.entries.map(e => [e.name, e.dtype, e.shape])).toEqual([['a', 'F32', [5]], ['b', 'F32', [1, 2]]]);
      const back = await readSafetensorsFile(file);
      expect(Array.from(back.tensors.a.values)).toEqual([0, 1, 2, 3, 4]);
      expect(back).toEqual(readSafetensors(readFileSync(file), {name: file}));
    });

    it('names the file in errors, and a missing file', async () => {
      const file = path.join(dir, 'short.safetensors');
      writeFileSync(file, new Uint8Array(3));
      await expectAsync(readSafetensorsFile(file)).toBeRejectedWithError(
          new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} size must be at least 8 bytes`));
      await expectAsync(readSafetensorsFile(path.join(dir, 'none'))).toBeRejectedWithError(/ENOENT/);
    });

    it('a failed write leaves the old file in place and no temporary file', async () => {
      const file = path.join(dir, 'keep.safetensors');
      await writeSafetensorsFile(file, {a: floats(2)});
      const before = readFileSync(file);
      await expectAsync(writeSafetensorsFile(file, {a: {dtype: 'float32', shape: [1], values: Float32Array.from([1e9])}},
                                             {}, {floatDtype: 'F16'})).toBeRejectedWithError(/F16's range/);
      expect(readFileSync(file)).toEqual(before);
      expect(readdirSync(dir)).toEqual(['keep.safetensors']);
    });

    it('writes shards and an index as transformers does, and reads them back', async () => {
      const tensors = {'l.0.w': floats(64), 'l.1.w': floats(64, 1), 'l.2.w': floats(64, 2), 'l.3.b': floats(3)};
      const files = await writeCheckpoint(dir, tensors, {maxShardBytes: 300});
      expect(files.map(f => path.basename(f))).toEqual(['model-00001-of-00003.safetensors',
                                                        'model-00002-of-00003.safetensors',
                                                        'model-00003-of-00003.safetensors',
                                                        'model.safetensors.index.json']);
      const index = JSON.parse(readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
      expect(index.metadata).toEqual({total_parameters: 195, total_size: 780});
      expect(index.weight_map['l.3.b']).toBe('model-00003-of-00003.safetensors');
      const back = await readCheckpoint(dir);
      expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
      expect(Array.from(back.tensors['l.2.w'].values)).toEqual(Array.from(tensors['l.2.w'].values));
      expect(back.metadata).toEqual({format: 'pt'});
      const some = await readCheckpoint(dir, {only: ['l.3.b']});
      expect(Object.keys(some.tensors)).toEqual(['l.3.b']);
      // Writing again unsharded replaces the shards and the index.
      await writeCheckpoint(dir, {x: floats(2)});
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
      expect(Object.keys((await readCheckpoint(dir)).tensors)).toEqual(['x']);
    });

    describe('a sharded checkpoint that does not add up', () => {
      const indexPath = () => path.join(dir, 'model.safetensors.index.json');
      const edit = (change: (index: {metadata: Record<string, number>, weight_map: Record<string, string>}) => void) => {
        const index = JSON.parse(readFileSync(indexPath(), 'utf8'));
        change(index);
        writeFileSync(indexPath(), JSON.stringify(index));
      };
      beforeEach(async () => {
        // Shard 1 holds a and b (512 bytes), shard 2 holds c.
        await writeCheckpoint(dir, {a: floats(64), b: floats(64), c: floats(64)}, {maxShardBytes: 600});
      });
      const cases: Array<[string, () => void, RegExp]> = [
        ['a missing shard', () => rmSync(path.join(dir, 'model-00002-of-00002.safetensors')),
         /shard model-00002-of-00002.safetensors must be a file beside the index, got missing/],
        ['an indexed tensor its shard lacks', () => edit(i => i.weight_map['d'] = 'model-00001-of-00002.safetensors'),
         /weight_map\['d'\] must be a tensor held by model-00001-of-00002.safetensors/],
        ['a shard tensor the index lacks', () => edit(i => delete i.weight_map['b']),
         /tensor 'b' must be listed in .* as in model-00001-of-00002.safetensors, got no entry \(an unexpected tensor\)/],
        ['a wrong total_size', () => edit(i => i.metadata.total_size = 7),
         /metadata.total_size must be 768, the bytes of the shards' tensors, got 7/],
        ['a path out of the folder', () => edit(i => i.weight_map['a'] = '../x.safetensors'),
         /weight_map\['a'\] must be a file name in the same folder, got "..\/x.safetensors"/],
        ['invalid JSON', () => writeFileSync(indexPath(), '{"weight_map": '), /index.json must be valid JSON/],
      ];
      for (const [what, corrupt, message] of cases) {
        it(`${what}: a clear error before any tensor is read`, async () => {
          corrupt();
          await expectAsync(readCheckpoint(dir)).toBeRejectedWithError(message);
        });
      }
      it('a folder with no weights says what it holds', async () => {
        rmSync(dir, {recursive: true, force: true});
        await expectAsync(readCheckpoint(dir)).toBeRejectedWithError(/must be a folder holding model.safetensors or/);
        expect(existsSync(dir)).toBe(false);
      });
    });
  });
}
