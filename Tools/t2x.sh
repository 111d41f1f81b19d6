#!/usr/bin/env bash
# Installs what is missing (apt packages, with sudo when not root), builds t2x once, and runs it:
#   bash Tools/t2x.sh generate "a red circle in the center on a blue background"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/Tools/install-deps.sh"
dotnet build "$root/Host/Host.csproj" -c Release -nologo -v:q >/dev/null || dotnet build "$root/Host/Host.csproj" -c Release -nologo -v:q
exec dotnet "$root/Host/bin/Release/net10.0/t2x.dll" "$@"
