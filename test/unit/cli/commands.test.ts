import { CLI_COMMANDS, COMMANDS, USAGE } from '../../../services/cli/commands';

describe('the command table', () => {
  it('names every command once, and help', () => {
    expect(new Set(CLI_COMMANDS).size).toBe(CLI_COMMANDS.length);
    expect([...CLI_COMMANDS].sort()).toEqual([
      'console',
      'dev',
      'dlq',
      'help',
      'kafka',
      'keys',
      'producer',
      'provision',
      'publish',
      'receiver',
      'sight',
      'subscriber',
      'subscription',
      'taxii',
      'warninglists',
    ]);
  });

  it('lists every command in the usage text', () => {
    for (const c of COMMANDS) expect(USAGE).toMatch(new RegExp(`^  ${c.name} `, 'm'));
  });
});
