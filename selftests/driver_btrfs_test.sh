#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lifecycle of the cowctl btrfs storage driver: image from a directory and
# from tars with OCI whiteouts, container, writes, removal, and no leaked
# mounts, loop or dm devices or pools (see driver_lifecycle.sh).
exec bash "$(dirname "${BASH_SOURCE[0]}")/driver_lifecycle.sh" btrfs
