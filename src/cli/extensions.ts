// Further command groups register themselves here (metrics, diff, exp).
import type { Command } from 'commander';

export const extraCommands: Array<(program: Command) => void> = [];
