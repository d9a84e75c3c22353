package cluster

func writeCharts(dir string, idle []IdleResult) error { return nil }
