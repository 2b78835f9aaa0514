/**
 * Shell completion generated from the command tree itself (commander gives none): subcommands and
 * each one's flags for bash, and for zsh through bashcompinit. Written from the Command objects,
 * so a new flag is completed without anyone remembering to.
 */
import type { Command } from 'commander';

const flagsOf = (c: Command): string[] =>
  c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));

export function bashCompletion(program: Command, bin: string): string {
  const commands = program.commands.map((c) => c.name());
  const global = [...flagsOf(program), '--help'];
  const fn = `_${bin.replace(/[^A-Za-z0-9]/g, '_')}`;
  const cases = program.commands
    .map((c) => `    ${c.name()}) words="${[...flagsOf(c), ...global].join(' ')}" ;;`)
    .join('\n');
  return `# ${bin} completion for bash: source <(${bin} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" words w
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in ${commands.join('|')}) cmd="$w"; break ;; esac
  done
  case "$cmd" in
    "") words="${[...commands, ...global].join(' ')}" ;;
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F ${fn} ${bin}
`;
}

export function zshCompletion(program: Command, bin: string): string {
  return `# ${bin} completion for zsh: source <(${bin} completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program, bin).split('\n').slice(1).join('\n')}`;
}
