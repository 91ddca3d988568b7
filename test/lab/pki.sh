# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Credentials for lab hosts (sourced by lab.sh), made with strongSwan's pki:
# CAs and host certificates (ECDSA P-256: fast to make and to verify), raw key
# pairs and pre-shared keys. Keys live in $LAB_DIR/pki; each host's swanctl
# directory gets copies of what that host holds.

lab_pki_dir() {
	if [ ! -f "$LAB_DIR/pki/strongswan.conf" ]; then
		mkdir -p "$LAB_DIR/pki"
		# Only the plugins pki needs: the default list tries a TPM and says so.
		printf 'pki {\n\tload = pem pkcs1 pkcs8 x509 pubkey openssl random nonce\n}\n' \
			>"$LAB_DIR/pki/strongswan.conf"
	fi
	echo "$LAB_DIR/pki"
}

# pki with the lab's plugin list.
lab_pki() {
	STRONGSWAN_CONF=$LAB_DIR/pki/strongswan.conf pki "$@"
}

# lab_ca NAME [DN]: a self-signed CA.
lab_ca() {
	local name=$1 dn=${2:-"C=CH, O=latch-lab, CN=$1 CA"} pki
	pki=$(lab_pki_dir)
	lab_pki --gen --type ecdsa --size 256 --outform pem >"$pki/$name.key"
	lab_pki --self --ca --lifetime 30 --in "$pki/$name.key" --type ecdsa \
		--dn "$dn" --outform pem >"$pki/$name.pem"
}

# lab_cert HOST CA ID [DN]: a key for HOST and a certificate for it from CA with
# subjectAltName ID; HOST trusts CA. ID becomes HOST's IKE identity.
lab_cert() {
	local host=$1 ca=$2 id=$3 dn=${4:-"C=CH, O=latch-lab, CN=$3"} pki dir
	pki=$(lab_pki_dir)
	dir=$(lab_dir "$host")
	[ -d "$dir/swanctl" ] || lab_charon_conf "$host"
	lab_pki --gen --type ecdsa --size 256 --outform pem >"$pki/$host.key"
	lab_pki --pub --in "$pki/$host.key" --type ecdsa |
		lab_pki --issue --cacert "$pki/$ca.pem" --cakey "$pki/$ca.key" --lifetime 30 \
			--dn "$dn" --san "$id" --outform pem >"$pki/$host.pem"
	cp "$pki/$host.key" "$dir/swanctl/private/$host.pem"
	cp "$pki/$host.pem" "$dir/swanctl/x509/$host.pem"
	echo "$id" >"$dir/id"
	echo "$ca" >"$dir/ca"
	lab_trust "$host" "$ca"
}

# lab_trust HOST CA: HOST accepts certificates issued by CA.
lab_trust() {
	cp "$(lab_pki_dir)/$2.pem" "$(lab_dir "$1")/swanctl/x509ca/$2.pem"
}

# lab_spki_sha256 PEM_CERT_OR_KEY: hex SHA-256 of the SubjectPublicKeyInfo.
lab_spki_sha256() {
	local der
	if grep -q 'BEGIN CERTIFICATE' "$1"; then
		der=$(openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform der | sha256sum)
	else
		der=$(openssl pkey -in "$1" -pubout -outform der | sha256sum)
	fi
	echo "${der%% *}"
}

# lab_rawkey HOST: an Ed25519 key pair for HOST; the public half is also in
# $LAB_DIR/pki/HOST.pub for peers that pin it (pubkeys = HOST.pub).
lab_rawkey() {
	local host=$1 pki dir
	pki=$(lab_pki_dir)
	dir=$(lab_dir "$host")
	[ -d "$dir/swanctl" ] || lab_charon_conf "$host"
	lab_pki --gen --type ed25519 --outform pem >"$pki/$host.raw.key"
	lab_pki --pub --in "$pki/$host.raw.key" --type ed25519 --outform pem >"$pki/$host.pub"
	cp "$pki/$host.raw.key" "$dir/swanctl/private/$host-raw.pem"
}

# lab_give_pubkey HOST PEER: HOST may name PEER's raw public key (pubkeys = PEER.pub).
lab_give_pubkey() {
	cp "$(lab_pki_dir)/$2.pub" "$(lab_dir "$1")/swanctl/pubkey/$2.pub"
}

# lab_psk HOST NAME SECRET ID...: a shared secret for the given identities.
lab_psk() {
	local host=$1 name=$2 secret=$3 i=1 id ids=
	shift 3
	for id in "$@"; do
		ids+="		id-$i = $id
"
		i=$((i + 1))
	done
	lab_conn "$host" "secret-$name" <<EOF
secrets {
	ike-$name {
$ids		secret = $secret
	}
}
EOF
}
