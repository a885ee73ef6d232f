// SwiGLU gate of the Llama MLP: silu(gate) · up.
import { backend } from '../backend/index.ts';
import { Tensor, finishGrad, gradTarget, record } from '../tensor.ts';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.size !== up.size) throw new Error(`swiglu: gate has ${gate.size} values, up has ${up.size}`);
  const out = Tensor.result(gate.shape, [gate, up]);
  backend().swigluForward(gate.data, up.data, out.data, gate.size);
  if (!out.requiresGrad) return out;
  record([gate, up], out, () => {
    const dgate = gradTarget(gate);
    const dup = gradTarget(up);
    backend().swigluBackward(out.grad!, gate.data, up.data, dgate, dup, gate.size);
    finishGrad(gate, dgate);
    finishGrad(up, dup);
  });
  return out;
}
