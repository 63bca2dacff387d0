import {GradConfig, registerGradient} from '@tensorflow/tfjs-core';

import {sluiceLinearCrossEntropyGradConfig} from './gradients/SluiceLinearCrossEntropy_grad';

const gradConfigs: GradConfig[] = [
  sluiceLinearCrossEntropyGradConfig,
];

for (const gradientConfig of gradConfigs) {
  registerGradient(gradientConfig);
}
