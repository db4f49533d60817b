/** MNIST's image geometry: each image is a sequence of 28 rows of 28 pixels, one of 10 classes. */
export const IMAGE_ROWS = 28
export const IMAGE_COLS = 28
export const IMAGE_PIXELS = IMAGE_ROWS * IMAGE_COLS
export const NUM_CLASSES = 10
