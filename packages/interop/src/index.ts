/**
 * @sluice/interop: safetensors read and write, for checkpoints that
 * transformers (PyTorch) loads and writes. This entry runs anywhere (browser
 * and Node); files and checkpoint folders on disk are in `@sluice/interop/node`.
 *
 * ```js
 * import {readSafetensors, writeSafetensors, toTensors} from '@sluice/interop';
 * const bytes = await writeSafetensors({w: tf.ones([2, 3])}, {format: 'pt'});
 * const {tensors, metadata} = readSafetensors(bytes);   // host typed arrays
 * const named = toTensors(tensors);                      // tf.Tensors (the caller disposes)
 * ```
 */
export {blobSource, prepareWrite, readSafetensors, readSafetensorsBlob, readSafetensorsFrom, readSafetensorsHeader,
        toTensors, writeSafetensors, writeSafetensorsBlob} from './safetensors';
export type {ByteSource, HostTensor, PreparedWrite, ReadOptions, ReadTensor, SafetensorsContents, WritableTensor,
             WriteOptions} from './safetensors';
export {bfloat16Bits, DTYPE_BYTES, float16Bits, READABLE_DTYPES} from './dtypes';
export type {HostDtype, HostValues, SafetensorsDtype, WritableFloatDtype, WritableIntDtype} from './dtypes';
export {MAX_HEADER_BYTES} from './header';
export type {ParsedHeader, TensorEntry} from './header';
export {checkShards, INDEX_FILE, parseShardIndex, planShards, shardFileName, shardIndexJson, SINGLE_FILE} from './shard_index';
export type {ShardIndex} from './shard_index';
