import { envName } from './config_error.js';
import { all_flag_specs, roles, type Role } from './config_flags.js';

/** `mq-node --help`: generated from the flag table, so it cannot drift from what is accepted. */
export function usageText(role: Role | null): string {
  const shown = role === null ? roles : [role];
  const lines = [
    'usage: mq-node --role namesrv|broker|standalone [flags]',
    '',
    'Every flag may also be set by an environment variable MQ_<FLAG> (--ha-port: MQ_HA_PORT)',
    'or by a key of a --config FILE.json object ("ha-port" or "haPort").',
    'Precedence: flag > environment > config file > default. Port 0 picks a free port.',
  ];
  for (const r of shown) {
    lines.push('', `--role ${r}:`);
    for (const spec of all_flag_specs) {
      if (!spec.roles.includes(r) || spec.flag === 'role') continue;
      const name = spec.placeholder === '' ? `--${spec.flag}` : `--${spec.flag} ${spec.placeholder}`;
      const fallback = spec.defaults[r];
      const default_text = spec.type.is_switch === true || spec.optional === true
        ? ''
        : fallback === undefined ? ' (required)' : fallback === '' ? ' (default: none)' : ` (default: ${fallback})`;
      const env_text = spec.sources.includes('env') ? `, ${envName(spec.flag)}` : '';
      lines.push(`  ${name.padEnd(44)} ${spec.help}${default_text}${env_text}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
