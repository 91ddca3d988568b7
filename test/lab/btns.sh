# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# BTNS helpers for the btns-*.t scenarios (sourced after lab.sh; nothing else
# sources it). The anchor is the repository's etc/btns/anchor.{pem,key}; its
# private key is public on purpose (docs/btns.md).

LAB_BTNS_ANCHOR=$(cd "$LAB_LIB_DIR/../../etc/btns" && pwd)/anchor.pem
LAB_BTNS_ANCHOR_KEY=${LAB_BTNS_ANCHOR%.pem}.key

# lab_btns_key HOST: the path of HOST's BTNS key (latchd makes it on first start).
lab_btns_key() {
	echo "$(lab_dir "$1")/lib/btns.key"
}

# lab_btns_spki HOST: the pubKeyID (SHA-256 of the SPKI, hex) of HOST's BTNS key.
lab_btns_spki() {
	lab_spki_sha256 "$(lab_btns_key "$1")"
}

# lab_btns_id HOST: the BTNS identity latchd gives HOST: O=BTNS, CN=<first 16 bytes>.
lab_btns_id() {
	local h
	h=$(lab_btns_spki "$1")
	echo "O=BTNS, CN=${h:0:32}"
}

# lab_field LINE KEY: the value of KEY=… (quoted or not) in a latch-probe line.
lab_field() {
	local v
	v=$(grep -o " $2=\"[^\"]*\"" <<<"$1" | head -n 1)
	[ -n "$v" ] || v=$(grep -o " $2=[^ ]*" <<<"$1" | head -n 1)
	v=${v#* "$2"=}
	v=${v#\"}
	echo "${v%\"}"
}

# lab_btns_cert HOST DN [SAN]: for a plain charon HOST (no latchd), what a stock
# strongSwan administrator does (docs/btns.md): a key, and a certificate for
# it issued under the public anchor with subject DN; HOST trusts the anchor.
lab_btns_cert() {
	local host=$1 dn=$2 san=${3:-} pki dir
	pki=$(lab_pki_dir)
	dir=$(lab_dir "$host")
	[ -d "$dir/swanctl" ] || lab_charon_conf "$host"
	lab_pki --gen --type ecdsa --size 256 --outform pem >"$pki/$host-btns.key"
	lab_pki --pub --in "$pki/$host-btns.key" --type ecdsa |
		lab_pki --issue --cacert "$LAB_BTNS_ANCHOR" --cakey "$LAB_BTNS_ANCHOR_KEY" \
			--lifetime 30 --dn "$dn" ${san:+--san "$san"} --outform pem \
			>"$pki/$host-btns.pem"
	cp "$pki/$host-btns.key" "$dir/swanctl/private/$host-btns.pem"
	cp "$pki/$host-btns.pem" "$dir/swanctl/x509/$host-btns.pem"
	cp "$LAB_BTNS_ANCHOR" "$dir/swanctl/x509ca/btns-anchor.pem"
}

# lab_btns_conn HOST PEER NAME ID [LOCAL_ADDR]: a stock strongSwan BTNS connection
# as docs/btns.md shows it: our anchor-issued certificate with identity ID, the
# peer only in the BTNS namespace and under the anchor, unique = never.
lab_btns_conn() {
	local host=$1 peer=$2 name=$3 id=$4 me=${5:-$(lab_ip "$1")} them
	them=$(lab_ip "$peer")
	lab_conn "$host" "$name" <<EOT
connections {
	$name {
		local_addrs = $me
		remote_addrs = $them
$(lab_ike_common)
		send_cert = always
		unique = never
		local {
			auth = pubkey
			certs = $host-btns.pem
			id = "$id"
		}
		remote {
			auth = pubkey
			id = "O=BTNS, CN=*"
			cacerts = btns-anchor.pem
		}
		children {
			$name {
				local_ts = $me/32
				remote_ts = $them/32
				mode = tunnel
				esp_proposals = aes256gcm16
			}
		}
	}
}
EOT
}

# lab_btns_takeover IMPOSTOR VICTIM PEER ID: as lab_takeover (charon.sh), but the
# impostor speaks BTNS under identity ID (its anchor-issued certificate from
# lab_btns_cert): it takes VICTIM's address and initiates to PEER.
lab_btns_takeover() {
	local imp=$1 victim=$2 peer=$3 id=$4 addr
	addr=$(lab_ip "$victim")
	lab_btns_conn "$imp" "$peer" takeover "$id" "$addr"
	lab_load "$imp" >/dev/null
	lab_exec "$victim" ip addr del "$addr/24" dev eth0
	lab_exec "$imp" ip addr add "$addr/24" dev eth0
	lab_exec "$peer" ip neigh flush dev eth0
	lab_initiate "$imp" takeover
}

# lab_btns_link A B: a second link between hosts A and B only, through a
# bridge of its own in the switch namespace: A 198.51.100.1/24, B
# 198.51.100.2/24 (interface mb0 on both; ports mbN on the switch).
lab_btns_link() {
	local a=$1 b=$2 h idx
	ip -n "$LAB_SW" link add br1 type bridge
	ip -n "$LAB_SW" link set br1 up
	for h in "$a" "$b"; do
		idx=$(cat "$(lab_dir "$h")/index")
		lab_exec "$h" ip link add mb0 type veth peer name "mb$idx" netns "$LAB_SW"
		ip -n "$LAB_SW" link set "mb$idx" master br1 up
		echo "mb0 mb$idx" >>"$(lab_dir "$h")/ports"
	done
	lab_exec "$a" ip addr add 198.51.100.1/24 dev mb0
	lab_exec "$b" ip addr add 198.51.100.2/24 dev mb0
	lab_exec "$a" ip link set mb0 up
	lab_exec "$b" ip link set mb0 up
}

# lab_btns_no_sas HOST: terminate every IKE_SA of HOST and wait until none is left.
lab_btns_no_sas() {
	local id
	for id in $(lab_swanctl "$1" --list-sas --raw 2>/dev/null | grep -o 'uniqueid=[0-9]*' |
		cut -d= -f2 | sort -u); do
		lab_swanctl "$1" --terminate --ike-id "$id" --force >/dev/null 2>&1
	done
	lab_wait 100 sh -c "! STRONGSWAN_CONF=$(lab_dir "$1")/strongswan.conf swanctl --list-sas \
		--uri $(lab_vici_uri "$1") | grep -q ESTABLISHED"
}

lab_btns_cb_bin() {
	echo "$LAB_BUILD/examples/btns-cb"
}

lab_btns_relay_bin() {
	echo "$LAB_BUILD/test/integration/btns-relay"
}
