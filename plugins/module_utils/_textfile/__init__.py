# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check records as a node_exporter textfile-collector file: validation, exposition format, atomic write."""
