// WebGPU globals and navigator.gpu from Dawn. A module of its own so that it
// is evaluated before '@tensorflow/tfjs-backend-webgpu', which registers its
// backend only if navigator.gpu exists when it loads.
import {create, globals} from 'webgpu';

Object.assign(globalThis, globals);
Object.defineProperty(globalThis, 'navigator', {value: {gpu: create([])}, configurable: true, writable: true});
