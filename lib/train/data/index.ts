export { type Batch, type Dataset, type DatasetSplits, shardRange } from './dataset.js';
export { encodeIdxUint8, IdxFormatError, parseIdx, readIdxFile, type IdxArray } from './idx.js';
export { DatasetNotFoundError, FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, fashionMnistDir, InMemoryImageDataset, loadFashionMnist } from './fashion-mnist.js';
export { decodeImage, DOGS_VS_CATS_CLASSES, ImageFileDataset, loadDogsVsCats, scanDogsVsCats, type DogsVsCatsOptions } from './dogs-vs-cats.js';
export { Prefetcher } from './prefetch.js';
