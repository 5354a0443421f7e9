// Further command groups register themselves here (metrics, diff, exp).
import type { Command } from 'commander';
import { registerExperimentCommands } from '../experiments/cli.js';

export const extraCommands: Array<(program: Command) => void> = [registerExperimentCommands];
