#!/usr/bin/env bash
# Install (once) and start a real Request Tracker 5 on 127.0.0.1 for the integration tests.
#
# Run as root on Debian 12. Idempotent: when RT already answers it returns at once; when
# RT is installed but stopped it only (re)writes the config and starts the server.
#
#   tests/rt/start.sh           install if needed, configure, start, wait for REST 2.0
#   tests/rt/start.sh --fresh   the same, on a pristine copy of the database (all tickets gone)
#
# Why the extra steps beyond Debian's defaults (see ../shared/reference/rt5-local-server.md):
# - MailCommand testfile: correspondence must never send mail.
# - Timezone UTC: TicketSQL dates are read in the server's zone; the adapter copes with any
#   zone, but the test server should be unsurprising.
# - BcryptCost 4, then the passwords set again: with Debian's cost 12 every basic-auth
#   request spends ~240 ms hashing, which would make the tests slow for no reason.
set -euo pipefail

RT_PORT="${CSCONSOLE_RT_PORT:-8089}"
RT_PASSWORD="${CSCONSOLE_RT_PASSWORD:-password}"
STATE="${CSCONSOLE_RT_STATE:-/var/lib/csconsole-rt}"
RT_DB=/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb
RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
SITE_CONFIG=/etc/request-tracker5/RT_SiteConfig.d/99-csconsole-tests.pm
URL="http://127.0.0.1:${RT_PORT}"

fresh=0
[ "${1:-}" = "--fresh" ] && fresh=1

answers() {
    curl -sf -m 5 -u "root:${RT_PASSWORD}" "${URL}/REST/2.0/rt" >/dev/null 2>&1
}

if [ "$fresh" = 0 ] && command -v curl >/dev/null 2>&1 && answers; then
    echo "RT already answers at ${URL}"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "tests/rt/start.sh installs and starts RT system-wide: run it as root" >&2
    exit 1
fi

mkdir -p "$STATE"

if ! dpkg-query -W -f='${Status}' request-tracker5 2>/dev/null | grep -q "install ok installed" \
        || ! dpkg-query -W -f='${Status}' rt5-db-sqlite 2>/dev/null | grep -q "install ok installed"; then
    echo "installing Request Tracker 5 from Debian (about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    printf '%s\n' \
        "request-tracker5 request-tracker5/dbconfig-install boolean true" \
        "request-tracker5 request-tracker5/database-type select sqlite3" | debconf-set-selections
    packages=(request-tracker5 rt5-db-sqlite)
    command -v curl >/dev/null 2>&1 || packages+=(curl)
    apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

# The database exactly as the package created it, kept once, for --fresh.
if [ ! -f "$STATE/rtdb.pristine" ]; then
    cp -p "$RT_DB" "$STATE/rtdb.pristine"
fi

# Stop a server we started before (it may be wedged, or --fresh needs the file).
"$(dirname "$0")/stop.sh" >/dev/null 2>&1 || true

if [ "$fresh" = 1 ]; then
    cp -p "$STATE/rtdb.pristine" "$RT_DB"
fi

cat >"$SITE_CONFIG" <<CONF
# Written by csconsole's tests/rt/start.sh: a loopback-only test server.
Set(\$WebPath, "");
Set(\$WebDomain, "127.0.0.1");
Set(\$WebPort, ${RT_PORT});
Set(\$WebBaseURL, "${URL}");
Set(\$MailCommand, "testfile");
Set(\$LogToSTDERR, "warning");
Set(\$Timezone, "UTC");
Set(\$BcryptCost, 4);
1;
CONF

# Accounts and fields the integration tests rely on, set up through RT's own API:
# - root's password set again, so it is hashed at the low cost set above;
# - csconsole-viewer, a privileged agent who may see tickets but not change them (the
#   "200 OK with Permission Denied" path of PUT /ticket);
# - customers may open and answer tickets through the API (Everyone: CreateTicket,
#   ReplyToTicket; Requestor: ShowTicket), so threads hold real customer messages;
# - Tags, a multi-value custom field on every queue (RT has no tags of its own).
RT_PASSWORD="$RT_PASSWORD" perl -I/usr/share/request-tracker5/lib -e '
    use strict; use warnings;
    use RT; RT::LoadConfig(); RT::Init();
    my $password = $ENV{RT_PASSWORD};
    my $root = RT::User->new(RT->SystemUser);
    $root->Load("root") or die "no root user\n";
    my ($ok, $msg) = $root->SetPassword($password);
    die "cannot set the password of root: $msg\n" unless $ok;

    my $viewer = RT::User->new(RT->SystemUser);
    $viewer->Load("csconsole-viewer");
    if ($viewer->id) {
        ($ok, $msg) = $viewer->SetPassword($password);
    } else {
        ($ok, $msg) = $viewer->Create(Name => "csconsole-viewer", RealName => "Read-only agent",
            EmailAddress => "viewer\@csconsole.test", Privileged => 1, Password => $password);
    }
    die "cannot set up csconsole-viewer: $msg\n" unless $ok;
    for my $right (qw(ShowTicket ShowTicketComments SeeQueue SeeCustomField)) {
        next if $viewer->PrincipalObj->HasRight(Right => $right, Object => RT->System);
        ($ok, $msg) = $viewer->PrincipalObj->GrantRight(Right => $right, Object => RT->System);
        die "cannot grant $right: $msg\n" unless $ok;
    }

    # Customers write in through the API the way they would by mail: anybody may open a
    # ticket or reply to one, and requestors may read their own tickets.
    my %grants = (Everyone => [qw(CreateTicket ReplyToTicket)], Requestor => [qw(ShowTicket)]);
    for my $name (sort keys %grants) {
        my $group = RT::Group->new(RT->SystemUser);
        $name eq "Everyone" ? $group->LoadSystemInternalGroup($name)
                            : $group->LoadRoleGroup(Object => RT->System, Name => $name);
        die "no $name group\n" unless $group->id;
        for my $right (@{ $grants{$name} }) {
            next if $group->PrincipalObj->HasRight(Right => $right, Object => RT->System);
            ($ok, $msg) = $group->PrincipalObj->GrantRight(Right => $right, Object => RT->System);
            die "cannot grant $right to $name: $msg\n" unless $ok;
        }
    }

    my $cf = RT::CustomField->new(RT->SystemUser);
    $cf->LoadByName(Name => "Tags", LookupType => RT::Ticket->CustomFieldLookupType);
    unless ($cf->id) {
        ($ok, $msg) = $cf->Create(Name => "Tags", Type => "Freeform", MaxValues => 0,
            LookupType => RT::Ticket->CustomFieldLookupType, Description => "csconsole tags");
        die "cannot create the Tags field: $msg\n" unless $ok;
        ($ok, $msg) = $cf->AddToObject(RT::Queue->new(RT->SystemUser));
        die "cannot apply the Tags field to every queue: $msg\n" unless $ok;
    }
' 2>"$STATE/setup.log" || { cat "$STATE/setup.log" >&2; exit 1; }

# The server outlives this script: its own session, output to a log, its pid in a file.
setsid "$RT_SERVER" --server Standalone --host 127.0.0.1 --port "$RT_PORT" \
    >"$STATE/rt-server.log" 2>&1 </dev/null &
echo $! >"$STATE/rt-server.pid"

for _ in $(seq 1 300); do
    if answers; then
        echo "RT answers at ${URL} (pid $(cat "$STATE/rt-server.pid"), log $STATE/rt-server.log)"
        exit 0
    fi
    if ! kill -0 "$(cat "$STATE/rt-server.pid")" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
echo "RT did not start; the end of its log:" >&2
tail -n 30 "$STATE/rt-server.log" >&2
exit 1
