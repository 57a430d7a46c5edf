"""``vngeonet run``: the whole network service (sources, caster, archive, monitors, status page)."""
