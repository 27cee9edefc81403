/** The paper's MNIST MLP setup, shared with `distill-gate init --scenario mnist-subliminal`. */
export {
  AUX_OUTPUTS,
  BASE_SEED,
  CLASS_OUTPUTS,
  DIFFERENT_BASE_SEED,
  HYPER,
  LAYERS,
  NOISE_COUNT,
  TEACHER_SEED,
} from 'distill-gate';
