# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Captures of a lab host's link and assertions on them (sourced by lab.sh).
# Whether a marker crossed in clear is decided on the raw capture file: a
# payload sent in clear stands in it byte for byte, whatever the dissector
# makes of the packet; under ESP it cannot.

# Filters for the kinds of packet the tests count. libipsec in 5.9.8 sends ESP
# only in UDP (port 4500); IKE on 4500 is told apart by its zero non-ESP marker
# (udp[] reads IPv4 only: over IPv6 the marker follows a 40-byte header).
LAB_F_ESP='(udp port 4500 and udp[8:4] != 0) or (ip6 and udp port 4500 and ip6[48:4] != 0) or esp'
LAB_F_IKE='udp port 500 or (udp port 4500 and udp[8:4] = 0)'

# lab_pcap NAME: the path of capture NAME (the handle for the other calls).
lab_pcap() {
	echo "$LAB_DIR/$1.pcap"
}

# lab_capture_start HOST PCAP [IFACE] [FILTER]: start tcpdump on HOST's link
# (eth0) into PCAP and wait until it listens. With kernel ESP (LAB_DATAPLANE=
# kernel) the host's own interface also shows what the kernel decrypted
# (tunnel-mode packets are received again on it), so a link with a port on the
# switch (eth0, lab_host; mb0, lab_btns_link) is captured at that port: only
# what crossed the wire.
lab_capture_start() {
	local host=$1 iface=${3:-eth0} port
	if [ "${LAB_DATAPLANE:-libipsec}" = kernel ]; then
		port=$(awk -v i="$iface" '$1 == i { print $2 }' "$(lab_dir "$host")/ports")
		[ -n "$port" ] && host=sw iface=$port
	fi
	lab_capture_on "$host" "$2" "$iface" "${4:-}"
}

# lab_capture_inner HOST PCAP [FILTER]: what HOST's data plane received from
# its tunnels, decrypted. libipsec: HOST's ipsec0 (which also shows what HOST
# sends into them). Kernel ESP: HOST's own eth0, where the kernel receives
# each tunnel-mode packet again once decrypted; what HOST sends is ESP before
# tcpdump sees it there, and clear text that arrived as such is there too, so
# a count of it is an upper bound of what was decrypted.
lab_capture_inner() {
	local iface=ipsec0
	[ "${LAB_DATAPLANE:-libipsec}" = kernel ] && iface=eth0
	lab_capture_on "$1" "$2" "$iface" "${3:-}"
}

# lab_capture_on HOST PCAP IFACE FILTER: tcpdump on IFACE in HOST's namespace.
lab_capture_on() {
	local host=$1 pcap=$2 wait=100
	# tcpdump starts in seconds under emulation, more on a busy machine
	[ "${LAB_DATAPLANE:-libipsec}" = kernel ] && wait=300
	# a ring of 16 MiB: on a busy machine tcpdump runs late, and the default one drops
	# shellcheck disable=SC2086 # the filter is tcpdump's words
	lab_bg "$host" "$pcap.log" tcpdump -i "$3" --immediate-mode -B 16384 -U -n -s 0 -w "$pcap" $4
	echo "$LAB_PID" >"$pcap.pid"
	lab_wait "$wait" grep -q 'listening on' "$pcap.log" || lab_die "tcpdump on $host did not start"
}

# lab_capture_stop PCAP: stop the capture; the file is complete afterwards.
lab_capture_stop() {
	lab_stop "$(cat "$1.pid")" INT
}

# lab_pcap_count PCAP FILTER: how many captured packets match FILTER.
lab_pcap_count() {
	# shellcheck disable=SC2086
	tcpdump -r "$1" -n $2 2>/dev/null | wc -l
}

# lab_pcap_esp PCAP [FILTER]: how many ESP packets (in UDP 4500 on libipsec,
# protocol 50 on the kernel) among those matching FILTER (e.g. ip6).
lab_pcap_esp() {
	lab_pcap_count "$1" "${2:+$2 and }($LAB_F_ESP)"
}

# lab_pcap_spi PCAP SPI: how many ESP packets carry SPI (8 hex digits, as
# latch-probe prints spi_in and spi_out), in UDP or not.
lab_pcap_spi() {
	lab_pcap_show "$1" "$LAB_F_ESP" | grep -c "spi=0x$2,"
}

lab_pcap_ike() {
	lab_pcap_count "$1" "$LAB_F_IKE"
}

# lab_pcap_clear PCAP MARKER: how many times MARKER stands in clear in the capture.
lab_pcap_clear() {
	grep -a -o -F -e "$2" "$1" | wc -l
}

# lab_pcap_spis PCAP: the distinct ESP SPIs seen, one per line.
lab_pcap_spis() {
	tcpdump -r "$1" -n "$LAB_F_ESP" 2>/dev/null | grep -o 'spi=0x[0-9a-f]*' | sort -u
}

# lab_pcap_show PCAP [FILTER]: the capture as text, for diagnostics and the demo.
lab_pcap_show() {
	# shellcheck disable=SC2086
	tcpdump -r "$1" -n ${2:-} 2>/dev/null
}
