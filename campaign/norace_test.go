//go:build !race

package campaign

const raceBuild = false
