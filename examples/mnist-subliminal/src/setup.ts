/** The paper's MNIST MLP setup (Cloud et al. 2025), shared by the model preparation and the experiment. */
export const LAYERS = [784, 256, 256, 13];
export const CLASS_OUTPUTS = { start: 0, end: 10 };
export const AUX_OUTPUTS = { start: 10, end: 13 };
/** Adam lr 3e-4, batch 1024, 5 epochs, for teacher and students alike. */
export const HYPER = { learningRate: 3e-4, batchSize: 1024, epochs: 5 };
/** Noise images the student is distilled on: uniform in [-1, 1]. */
export const NOISE_COUNT = 60000;
/** Seeds of the example's committed models: the shared base and the base of the cross-model control. */
export const BASE_SEED = 0;
export const DIFFERENT_BASE_SEED = 1;
export const TEACHER_SEED = 0;
