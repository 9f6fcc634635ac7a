"""The shipped jobs, one module per domain. `load_catalog` imports every module of this
package, so a new file here declares its jobs without being listed anywhere."""
