# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# One charon per lab host (sourced by lab.sh). Each has its own strongswan.conf,
# VICI socket and log under $LAB_DIR/hosts/HOST/, and a private /run: charon
# refuses to start while /run/charon.pid exists, so every instance gets a tmpfs
# there in its own mount namespace (test/lab/README.md).

# The plugin list and settings measured to make host-to-host IPsec work with
# kernel-libipsec (libipsec before netlink; the fwmark pair keeps IKE traffic out
# of the routes that lead into ipsec0). LAB_FWMARK and LAB_CHARON_EXTRA (lines
# added inside charon { }) let a test choose other routing or timers.
# LAB_DATAPLANE=kernel (the kernel lab, test/kernel-lab/): ESP in the kernel,
# kernel-netlink alone, none of libipsec's settings (nor the fwmark pair).
lab_charon_conf() {
	local host=$1 dir libipsec=kernel-libipsec plugins
	dir=$(lab_dir "$host")
	plugins="
		kernel-libipsec {
			allow_peer_ts = yes
		}
		kernel-netlink {
			fwmark = ${LAB_FWMARK:-!0x42}
		}
		socket-default {
			fwmark = 0x42
		}"
	if [ "${LAB_DATAPLANE:-libipsec}" = kernel ]; then
		libipsec=
		plugins=
	fi
	cat >"$dir/strongswan.conf" <<EOF
charon {
	load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey revocation constraints kdf $libipsec kernel-netlink socket-default vici
	plugins {
		vici {
			socket = unix://$dir/charon.vici
		}$plugins
	}
	filelog {
		lab {
			path = $dir/charon.log
			default = 1
			ike = ${LAB_IKE_LOGLEVEL:-1}
			cfg = 1
			flush_line = yes
			append = yes
			time_format = %T
		}
	}
${LAB_CHARON_EXTRA:-}
}
swanctl {
	load = pem pkcs1 pkcs8 x509 pubkey openssl random nonce
	socket = unix://$dir/charon.vici
}
EOF
	mkdir -p "$dir"/swanctl/{conf.d,x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
	[ -f "$dir/swanctl/swanctl.conf" ] ||
		printf 'include conf.d/*.conf\n' >"$dir/swanctl/swanctl.conf"
}

lab_vici_uri() {
	echo "unix://$(lab_dir "$1")/charon.vici"
}

# lab_swanctl HOST COMMAND [OPTIONS...]: swanctl against HOST's charon (swanctl
# wants its command first).
lab_swanctl() {
	local dir cmd=$2
	dir=$(lab_dir "$1")
	shift 2
	STRONGSWAN_CONF=$dir/strongswan.conf swanctl "$cmd" --uri "unix://$dir/charon.vici" "$@"
}

lab_charon_pid() {
	cat "$(lab_dir "$1")/charon.pid" 2>/dev/null
}

lab_charon_start() {
	local host=$1 dir pid
	dir=$(lab_dir "$host")
	[ -f "$dir/strongswan.conf" ] || lab_charon_conf "$host"
	rm -f "$dir/charon.vici"
	# ip netns exec, unshare and both exec: the recorded PID is charon's own.
	lab_bg "$host" "$dir/charon.out" unshare -m --propagation private sh -c \
		"mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF=$dir/strongswan.conf $LAB_CHARON"
	pid=$LAB_PID
	echo "$pid" >"$dir/charon.pid"
	if ! lab_wait 100 lab_swanctl "$host" --stats; then
		cat "$dir/charon.out" >&2
		lab_die "charon on $host did not answer on VICI within 10 s"
	fi
	lab_log "charon on $host: pid $pid"
}

# lab_charon_stop HOST [SIGNAL]: TERM by default (charon deletes its SAs and tells
# the peer); KILL to simulate a crash.
lab_charon_stop() {
	local pid
	pid=$(lab_charon_pid "$1") || return 0
	lab_stop "$pid" "${2:-TERM}"
	rm -f "$(lab_dir "$1")/charon.pid"
}

lab_charon_restart() {
	lab_charon_stop "$1" "${2:-TERM}"
	lab_charon_start "$1"
}

# ------------------------------------------------------------------ connections

# lab_conn HOST NAME: the swanctl.conf text on stdin becomes conf.d/NAME.conf.
lab_conn() {
	local dir
	dir=$(lab_dir "$1")
	[ -d "$dir/swanctl" ] || lab_charon_conf "$1"
	cat >"$dir/swanctl/conf.d/$2.conf"
}

lab_conn_remove() {
	rm -f "$(lab_dir "$1")/swanctl/conf.d/$2.conf"
}

# lab_load HOST: load every connection and credential of HOST into its charon.
# swanctl unloads what is no longer in the files, so this is also how a test
# removes a connection (after lab_conn_remove).
lab_load() {
	lab_swanctl "$1" --load-all --noprompt --file "$(lab_dir "$1")/swanctl/swanctl.conf"
}

# Common IKE settings of lab connections: IKEv2, UDP encapsulation (libipsec in
# 5.9.8 speaks only ESP-in-UDP; the kernel speaks plain ESP unless LAB_ENCAP=yes)
# and proposals both ends support.
lab_ike_common() {
	local encap=yes
	[ "${LAB_DATAPLANE:-libipsec}" = kernel ] && encap=${LAB_ENCAP:-no}
	cat <<EOF
		version = 2
		encap = $encap
		proposals = aes256gcm16-prfsha256-x25519
		dpd_delay = ${LAB_DPD_DELAY:-0s}
EOF
}

# lab_child NAME LOCAL_TS REMOTE_TS [LINES]: one child section, for lab_conn_cert.
lab_child() {
	cat <<EOF
			$1 {
				local_ts = $2
				remote_ts = $3
				mode = tunnel
				esp_proposals = aes256gcm16
${4:-}
			}
EOF
}

# lab_conn_cert HOST NAME LOCAL_ADDR REMOTE_ADDR PEER_ID: a certificate-
# authenticated connection NAME (HOST's certificate from lab_cert, its CA
# pinned with cacerts, the peer named by its identity) whose children are the
# text on stdin (lab_child).
lab_conn_cert() {
	local host=$1 name=$2 me=$3 them=$4 peer_id=$5 children
	children=$(cat)
	lab_conn "$host" "$name" <<EOF
connections {
	$name {
		local_addrs = $me
		remote_addrs = $them
$(lab_ike_common)
		local {
			auth = pubkey
			certs = $host.pem
			id = $(cat "$(lab_dir "$host")/id")
		}
		remote {
			auth = pubkey
			id = $peer_id
			cacerts = $(cat "$(lab_dir "$host")/ca").pem
		}
		children {
$children
		}
	}
}
EOF
}

# lab_conn_host2host HOST PEER PEER_ID [NAME]: a certificate-authenticated
# host-to-host tunnel HOST/32 <-> PEER/32, CA pinned with cacerts, peer named by
# its identity. Needs lab_cert for both. Child and connection are both NAME.
lab_conn_host2host() {
	local host=$1 peer=$2 peer_id=$3 name=${4:-$2} fam=${LAB_FAMILY:-4} me them bits=32
	me=$(lab_ip "$host" "$fam")
	them=$(lab_ip "$peer" "$fam")
	[ "$fam" = 6 ] && bits=128
	lab_child "$name" "$me/$bits" "$them/$bits" \
		"				start_action = ${LAB_START_ACTION:-none}" |
		lab_conn_cert "$host" "$name" "$me" "$them" "$peer_id"
}

# lab_conn_narrow HOST PEER PEER_ID NAME PROTO LPORT:RPORT...: a connection NAME
# with one child per pair (selectors exactly that 5-tuple), named NAME-LPORT.
# The responder side uses lab_conn_narrow_responder.
lab_conn_narrow() {
	local host=$1 peer=$2 peer_id=$3 name=$4 proto=$5 me them pair
	shift 5
	me=$(lab_ip "$host")
	them=$(lab_ip "$peer")
	for pair in "$@"; do
		lab_child "$name-${pair%%:*}" "$me/32[$proto/${pair%%:*}]" "$them/32[$proto/${pair##*:}]"
	done | lab_conn_cert "$host" "$name" "$me" "$them" "$peer_id"
}

# lab_conn_narrow_responder HOST PEER PEER_ID NAME PROTO: one broad child
# HOST/32[PROTO] <-> PEER/32[PROTO] that charon narrows to whatever 5-tuple the
# initiator proposes, so one responder connection serves every narrow child.
lab_conn_narrow_responder() {
	local host=$1 peer=$2 peer_id=$3 name=$4 proto=$5 me them
	me=$(lab_ip "$host")
	them=$(lab_ip "$peer")
	lab_child "$name" "$me/32[$proto]" "$them/32[$proto]" |
		lab_conn_cert "$host" "$name" "$me" "$them" "$peer_id"
}

# lab_conn_route_holder HOST PEER: a drop shunt HOST/32 <-> PEER/32 in a
# connection that can never be chosen for a real peer (its remote address is
# unused). With libipsec a shunt only installs the route into ipsec0, which it
# then owns for good; packets matching no IPsec policy are dropped by libipsec.
lab_conn_route_holder() {
	local host=$1 peer=$2 me them
	me=$(lab_ip "$host")
	them=$(lab_ip "$peer")
	lab_conn "$host" "rholder-$peer" <<EOF
connections {
	rholder-$peer {
		remote_addrs = $LAB_UNUSED4
		local {
			auth = psk
		}
		remote {
			auth = psk
		}
		children {
			rholder-$peer {
				local_ts = $me/32
				remote_ts = $them/32
				mode = drop
				start_action = trap
			}
		}
	}
}
EOF
}

# lab_child_state HOST CHILD: the state of CHILD's newest SA (INSTALLED, …) or nothing.
lab_child_state() {
	lab_swanctl "$1" --list-sas --child "$2" --raw 2>/dev/null |
		grep -o 'state=[A-Z_]*' | tail -n 1 | cut -d= -f2
}

# lab_children HOST: HOST's child SAs, one line each (sas.py says the fields).
lab_children() {
	lab_swanctl "$1" --list-sas --raw 2>/dev/null | python3 "$LAB_LIB_DIR/sas.py"
}

lab_child_installed() {
	[ "$(lab_child_state "$1" "$2")" = INSTALLED ]
}

# lab_initiate HOST CHILD [IKE]: initiate and wait for the outcome.
lab_initiate() {
	local args=(--initiate --child "$2" --timeout 10)
	[ -n "${3:-}" ] && args+=(--ike "$3")
	lab_swanctl "$1" "${args[@]}" >/dev/null
}

# lab_takeover IMPOSTOR VICTIM PEER [LOCAL_TS REMOTE_TS]: IMPOSTOR (a plain
# charon host with its own certificate) takes over VICTIM's address and brings
# up IPsec with PEER under its own identity: VICTIM leaves the link, IMPOSTOR
# answers for its address, PEER's neighbour entry is flushed (what the network
# converges to), then IMPOSTOR initiates. Its child's selectors are host to
# host unless given (swanctl's lists). Fails if IKE does.
lab_takeover() {
	local imp=$1 victim=$2 peer=$3 addr
	addr=$(lab_ip "$victim")
	lab_conn "$imp" takeover <<EOT
connections {
	takeover {
		local_addrs = $addr
		remote_addrs = $(lab_ip "$peer")
$(lab_ike_common)
		local {
			auth = pubkey
			certs = $imp.pem
			id = $(cat "$(lab_dir "$imp")/id")
		}
		remote {
			auth = pubkey
			cacerts = $(cat "$(lab_dir "$imp")/ca").pem
		}
		children {
			takeover {
				local_ts = ${4:-$addr/32}
				remote_ts = ${5:-$(lab_ip "$peer")/32}
				esp_proposals = aes256gcm16
			}
		}
	}
}
EOT
	lab_load "$imp" >/dev/null
	lab_exec "$victim" ip addr del "$addr/24" dev eth0
	lab_exec "$imp" ip addr add "$addr/24" dev eth0
	lab_exec "$peer" ip neigh flush dev eth0
	lab_initiate "$imp" takeover
}
