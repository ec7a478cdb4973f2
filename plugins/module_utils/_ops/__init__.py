# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Daily-operations backends: check records, the history that outlives a job (store), trends, the report data (history)."""
