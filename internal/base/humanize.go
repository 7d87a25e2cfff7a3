package base

import "fmt"

// HumanBytes renders a byte count in binary units, named as such: "512 B",
// "3.4 KiB", "12.0 MiB", "1.5 GiB", "2.0 TiB" (1 KiB = 1024 bytes). The
// engine's event lines and the inspect tools share it.
func HumanBytes(n uint64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	unit, size := 0, float64(n)/(1<<10)
	for size >= 1<<10 && unit < 3 {
		unit, size = unit+1, size/(1<<10)
	}
	return fmt.Sprintf("%.1f %ciB", size, "KMGT"[unit])
}
