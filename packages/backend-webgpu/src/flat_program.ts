/**
 * The fields every one-dimensional sluice program shares: 64-wide
 * workgroups over `threads` invocations (`index` in `main('index')`),
 * writing a flat output of `outputShape`, which may hold more or fewer
 * elements than there are invocations (a scatter over M rows into P slots,
 * one thread of a reduction). tfjs reshapes a dispatch past the device's
 * per-dimension limit itself, and `index` follows it.
 */
import {webgpu_util, WebGPUProgram} from './internal';

export const FLAT_WORKGROUP: [number, number, number] = [64, 1, 1];

export abstract class FlatProgram implements WebGPUProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  outputShape: number[];
  dispatchLayout: {x: number[]};
  dispatch: [number, number, number];
  workgroupSize = FLAT_WORKGROUP;

  constructor(outputShape: number[], threads = outputShape.reduce((a, b) => a * b, 1)) {
    this.outputShape = outputShape;
    this.dispatchLayout = webgpu_util.flatDispatchLayout(outputShape);
    this.dispatch = webgpu_util.computeDispatch({x: [0]}, [threads], FLAT_WORKGROUP);
  }

  abstract getUserCode(): string;
}
