export {describeRegularizersConformance} from './regularizers_suite';
