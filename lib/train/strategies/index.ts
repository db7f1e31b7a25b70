export { StrategyBase, type StepInfo, type StrategyState, type TrainingStrategy } from './strategy.js';
export { SyncSGD } from './sync-sgd.js';
