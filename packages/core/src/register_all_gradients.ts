import {GradConfig, registerGradient} from '@tensorflow/tfjs-core';

import {sluiceLinearCrossEntropyGradConfig} from './gradients/SluiceLinearCrossEntropy_grad';
import {sluiceTopOneSuppressionGradConfig} from './gradients/SluiceTopOneSuppression_grad';
import {sluiceExpertDispatchGradConfig} from './gradients/SluiceExpertDispatch_grad';
import {sluiceGroupedMatMulGradConfig} from './gradients/SluiceGroupedMatMul_grad';
import {sluiceExpertCombineGradConfig} from './gradients/SluiceExpertCombine_grad';

const gradConfigs: GradConfig[] = [
  sluiceLinearCrossEntropyGradConfig,
  sluiceTopOneSuppressionGradConfig,
  sluiceExpertDispatchGradConfig,
  sluiceGroupedMatMulGradConfig,
  sluiceExpertCombineGradConfig,
];

for (const gradientConfig of gradConfigs) {
  registerGradient(gradientConfig);
}
