#!/bin/sh
# embed-providers.sh OUTPUT.swift TEMPLATE.json...: writes a Swift file holding each provider template's
# JSON text, named by its file name. Run by the EmbedProviders build plugin (a shell script rather than a
# Swift tool, so that builds with sanitizer flags, such as `make fuzz`, need no host tool of their own).
set -eu
out=$1
shift
tmp="$out.tmp"
{
    echo '// Generated at build time from providers/*.json by scripts/embed-providers.sh. Edit the JSON.'
    echo
    echo 'enum EmbeddedProviders {'
    echo '    /// (name, template JSON), sorted by name.'
    echo '    static let templates: [(name: String, json: String)] = ['
    for file in "$@"; do
        if grep -q '"####' "$file"; then
            echo "embed-providers.sh: $file contains \"####, which would end its Swift raw string" >&2
            exit 1
        fi
        name=$(basename "$file" .json)
        printf '        ("%s", ####"""\n' "$name"
        cat "$file"
        printf '\n"""####),\n'
    done
    echo '    ]'
    echo '}'
} > "$tmp"
mv "$tmp" "$out"
