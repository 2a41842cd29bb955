import { resolve } from 'node:path';
import { bundledWarninglistsDir } from '../../platform/paths';
import { openWarninglists } from '../../platform/warninglists';
import { command, fail } from '../context';
import { checkValue, describeCheck } from '../warninglists/check';
import { importWarninglists } from '../warninglists/import';

const USAGE_LINE =
  'usage: threatrelay warninglists import DIR [--list ID ...] [--commit SHA] [--snapshot DIR]\n' +
  '       threatrelay warninglists check VALUE [--type T] [--snapshot DIR]';

export const warninglists = command({
  name: 'warninglists',
  usage: [
    'warninglists import DIR [--list ID ...] [--commit SHA]   refresh the MISP warninglist snapshot from a checkout',
    'warninglists check VALUE [--type T]                      which warninglists a value is on, and why',
  ].join('\n'),
  async run({ values, args }) {
    const [action, operand] = args;
    const snapshot = values.snapshot ?? bundledWarninglistsDir();
    if (action === 'import' && operand) {
      const manifest = importWarninglists(resolve(operand), snapshot, {
        ...(values.list ? { lists: values.list } : {}),
        ...(values.commit ? { commit: values.commit } : {}),
      });
      for (const l of manifest.lists)
        console.log(
          `${l.id.padEnd(28)} version ${String(l.version).padEnd(9)} ${l.type.padEnd(9)} ${l.entries} entries`,
        );
      console.log(
        `${manifest.lists.length} list(s) from ${manifest.source} at ${manifest.commit ?? '(unknown commit)'} in ${snapshot}`,
      );
      return;
    }
    if (action === 'check' && operand) {
      for (const line of describeCheck(checkValue(openWarninglists(snapshot), operand, values.type)))
        console.log(line);
      return;
    }
    fail(USAGE_LINE);
  },
});
