import {GradConfig, registerGradient} from '@tensorflow/tfjs-core';

import {sluiceLinearCrossEntropyGradConfig} from './gradients/SluiceLinearCrossEntropy_grad';
import {sluiceTopOneSuppressionGradConfig} from './gradients/SluiceTopOneSuppression_grad';

const gradConfigs: GradConfig[] = [
  sluiceLinearCrossEntropyGradConfig,
  sluiceTopOneSuppressionGradConfig,
];

for (const gradientConfig of gradConfigs) {
  registerGradient(gradientConfig);
}
