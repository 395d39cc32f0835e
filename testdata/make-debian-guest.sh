#!/usr/bin/env bash
# Makes testdata/debian/bookworm-guest.tar.gz: the files of a real Debian 12 (bookworm) amd64
# guest that the readiness report reads (tests/it/readiness_debian.rs builds ext4 disks from it
# at test time with mkfs.ext4 -d). CI does not run this script (it needs root and Debian's
# mirror); run it by hand on Debian 12 as root to change the fixture, and commit the result.
#
# How each artefact is made:
#   root/          debootstrap --variant=minbase bookworm, then in the chroot apt-get install
#                  --no-install-recommends linux-image-cloud-amd64 initramfs-tools cloud-init
#                  cloud-guest-utils e2fsprogs openssh-server ifupdown isc-dhcp-client; the
#                  initramfs is made by Debian's own update-initramfs with MODULES=list (the
#                  virtio, NVMe and ext4 modules in /etc/initramfs-tools/modules) and
#                  COMPRESS=xz, to keep it small. Written here, as the vendor asks (and as
#                  Debian's installer would): /etc/fstab by UUID, /boot/grub/grub.cfg with
#                  root=UUID= in the shape of update-grub's output (grub-mkconfig cannot probe
#                  a chroot's root device), /etc/network/interfaces with DHCP on eth0 (what
#                  Debian's cloud images do), /etc/adjtime with UTC. Everything else is as the
#                  packages installed it.
#                  Kept: only what the readiness report and inspect read (the list in keep()
#                  below). Large binaries (vmlinuz, bash, sshd, ld-linux) are cut to their first
#                  64 KiB with head -c: imgtool reads only their headers and whether they exist.
#   extra/         what the defect variants need that the prepared guest does not have:
#     boot/initrd.img-novirtio   made by mkinitramfs -d <a copy of /etc/initramfs-tools whose
#                                modules list has no virtio> (the same kernel)
#     usr/sbin/qemu-ga           from qemu-guest-agent (apt-get download + dpkg-deb -x),
#                                first 64 KiB
#   MANIFEST       the kernel version, the package versions, and each file's size.
#
# The guest's root file system UUID (fstab, grub.cfg) is fixed: the tests give mkfs.ext4 the
# same -U. The tarball is deterministic for a given set of packages (sorted, fixed mtime, owner
# 0:0); package versions change with the mirror, so a re-run may differ.
#
# Set DEBIAN_GUEST_WORK=<dir> to keep (and reuse) the chroot between runs, and also
# DEBIAN_GUEST_REPACK=1 to only pack its files again.
set -euo pipefail
export LC_ALL=C SOURCE_DATE_EPOCH=1700000000 DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")"
OUT=$PWD/debian
MIRROR=${MIRROR:-http://deb.debian.org/debian}
WORK=${DEBIAN_GUEST_WORK:-$(mktemp -d)}
mkdir -p "$WORK" "$OUT"
R=$WORK/root
ROOT_UUID=6f1b1a52-3c1e-4b8e-9d7a-1f0e2d3c4b5a

mounts() {
    mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
    mountpoint -q "$R/sys" || mount -t sysfs sys "$R/sys"
    mountpoint -q "$R/dev" || mount --bind /dev "$R/dev"
}
unmounts() {
    for m in dev sys proc; do umount "$R/$m" 2>/dev/null || true; done
    if [ -z "${DEBIAN_GUEST_WORK:-}" ]; then rm -rf "$WORK"; fi
}
trap unmounts EXIT

bootstrap() {
    command -v debootstrap >/dev/null || {
        apt-get update -qq || echo "apt-get update reported errors; going on" >&2
        apt-get install -y -qq debootstrap >/dev/null
    }
    [ -e "$R/etc/debian_version" ] || debootstrap --variant=minbase bookworm "$R" "$MIRROR"
    mounts
    # The kernel's postinst must not try to install a boot loader or ask questions.
    printf 'do_symlinks = yes\ndo_bootloader = no\n' >"$R/etc/kernel-img.conf"
    chroot "$R" apt-get update -qq
    chroot "$R" apt-get install -y -qq --no-install-recommends initramfs-tools zstd xz-utils >/dev/null
    # Small initramfs: only the listed modules, xz. virtio_net is not needed before the root
    # file system is mounted (udev loads it from /lib/modules), so it is not listed, as with
    # Debian's MODULES=dep.
    sed -i 's/^MODULES=.*/MODULES=list/; s/^#\?COMPRESS=.*/COMPRESS=xz/' "$R/etc/initramfs-tools/initramfs.conf"
    printf 'virtio_pci\nvirtio_blk\nvirtio_scsi\nnvme\next4\n' >>"$R/etc/initramfs-tools/modules"
    chroot "$R" apt-get install -y -qq --no-install-recommends linux-image-cloud-amd64 \
        cloud-init cloud-guest-utils e2fsprogs openssh-server ifupdown isc-dhcp-client >/dev/null
}

configure() {
    KVER=$(ls "$R/lib/modules" | sort -V | tail -n1)
    printf '# /etc/fstab: static file system information.\nUUID=%s / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1\n' \
        "$ROOT_UUID" >"$R/etc/fstab"
    printf '0.0 0 0.0\n0\nUTC\n' >"$R/etc/adjtime"
    printf 'debian\n' >"$R/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n' >"$R/etc/hosts"
    cat >"$R/etc/network/interfaces" <<IF
# interfaces(5) file used by ifup(8) and ifdown(8)
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

allow-hotplug eth0
iface eth0 inet dhcp
IF
    mkdir -p "$R/boot/grub"
    cat >"$R/boot/grub/grub.cfg" <<GRUB
#
# DO NOT EDIT THIS FILE (written by make-debian-guest.sh in the shape of update-grub's output)
#
set default="0"
set timeout=5
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os \$menuentry_id_option 'gnulinux-simple-$ROOT_UUID' {
	insmod gzio
	insmod part_msdos
	insmod ext2
	search --no-floppy --fs-uuid --set=root $ROOT_UUID
	echo	'Loading Linux $KVER ...'
	linux	/boot/vmlinuz-$KVER root=UUID=$ROOT_UUID ro console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img-$KVER
}
GRUB
    # The distribution's own tool makes the initramfs (initramfs.conf and modules above).
    chroot "$R" update-initramfs -u -k "$KVER"
    # The same kernel's initramfs without virtio, made by mkinitramfs with another config dir.
    rm -rf "$R/etc/initramfs-tools-novirtio"
    cp -a "$R/etc/initramfs-tools" "$R/etc/initramfs-tools-novirtio"
    sed -i '/^virtio/d' "$R/etc/initramfs-tools-novirtio/modules"
    chroot "$R" mkinitramfs -d /etc/initramfs-tools-novirtio -o /boot/initrd.img-novirtio "$KVER"
    mkdir -p "$WORK/deb" && chmod 777 "$WORK/deb" && (cd "$WORK/deb" && apt-get download -qq qemu-guest-agent)
    rm -rf "$WORK/qga" && dpkg-deb -x "$WORK"/deb/qemu-guest-agent_*.deb "$WORK/qga"
}

# The files the readiness report and inspect read, copied as they are (links kept).
keep() {
    local T=$WORK/out/root M="lib/modules/$KVER"
    rm -rf "$WORK/out" && mkdir -p "$T"
    copy() { # path... (relative to /; -P: copy links as links; missing ones are an error)
        for p in "$@"; do (cd "$R" && cp -a --parents -P "$p" "$T/"); done
    }
    cut() { # path: the first 64 KiB
        mkdir -p "$T/$(dirname "$1")" && head -c 65536 "$R/$1" >"$T/$1"
    }
    copy bin sbin lib lib64 vmlinuz initrd.img
    copy etc/os-release usr/lib/os-release etc/debian_version etc/hostname etc/hosts etc/fstab \
        etc/passwd etc/group etc/shadow etc/adjtime etc/network/interfaces etc/network/interfaces.d \
        etc/cloud etc/initramfs-tools/initramfs.conf etc/initramfs-tools/modules \
        etc/systemd/system/multi-user.target.wants etc/ssh/sshd_config
    copy "boot/config-$KVER" "boot/initrd.img-$KVER" boot/grub/grub.cfg "boot/System.map-$KVER"
    rm -f "$T/boot/System.map-$KVER"
    cut "boot/vmlinuz-$KVER"
    copy "usr/$M/modules.builtin" "usr/$M/modules.order" "usr/$M/modules.dep"
    for ko in net/virtio_net.ko block/virtio_blk.ko; do # nvme is built in (=y)
        copy "usr/$M/kernel/drivers/$ko"
    done
    copy usr/bin/cloud-init usr/bin/growpart usr/lib/python3/dist-packages/cloudinit/version.py \
        var/lib/dpkg/status
    cut usr/bin/bash
    cut usr/sbin/sshd
    cut usr/sbin/resize2fs
    cut usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    copy usr/lib64/ld-linux-x86-64.so.2
    mkdir -p "$WORK/out/extra/boot" "$WORK/out/extra/usr/sbin"
    cp "$R/boot/initrd.img-novirtio" "$WORK/out/extra/boot/"
    head -c 65536 "$WORK/qga/usr/sbin/qemu-ga" >"$WORK/out/extra/usr/sbin/qemu-ga"
    {
        echo "kernel $KVER"
        echo "made by testdata/make-debian-guest.sh on $(date -u +%Y-%m-%d)"
        echo "packages:"
        chroot "$R" dpkg-query -W linux-image-cloud-amd64 "linux-image-$KVER" initramfs-tools \
            cloud-init cloud-guest-utils e2fsprogs openssh-server ifupdown isc-dhcp-client \
            | sed 's/^/  /'
        echo "  $(dpkg-deb -f "$WORK"/deb/qemu-guest-agent_*.deb Package Version | paste -sd' ')"
        echo "initramfs (lsinitramfs, virtio/nvme modules):"
        for i in "boot/initrd.img-$KVER" boot/initrd.img-novirtio; do
            echo "  $i: $(chroot "$R" lsinitramfs "/$i" | grep -E '(virtio|nvme)[^/]*\.ko' | xargs -r -n1 basename | sort | paste -sd' ')"
        done
        echo "files:"
        (cd "$WORK/out" && find . -type f -printf '  %P %s\n' | sort)
    } >"$WORK/out/MANIFEST"
    tar -C "$WORK/out" --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
        -cf - MANIFEST root extra | gzip -9 -n >"$OUT/bookworm-guest.tar.gz"
    cp "$WORK/out/MANIFEST" "$OUT/MANIFEST"
    ls -l "$OUT"
}

if [ -n "${DEBIAN_GUEST_REPACK:-}" ]; then
    # Only pack again from the chroot kept in DEBIAN_GUEST_WORK (no package or initramfs change).
    KVER=$(ls "$R/lib/modules" | sort -V | tail -n1)
else
    bootstrap
    configure
fi
keep
