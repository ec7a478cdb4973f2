# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The evening summary report: validated data (data), its HTML (html, svg) and Markdown (markdown) renderings,
human units (units), atomic files (output), SMTP and webhook delivery (delivery), and the run (run)."""
