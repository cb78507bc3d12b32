import { randomInt } from 'node:crypto';

// MLflow names unnamed runs "<adjective>-<noun>-<number>"; users recognise the pattern.
const ADJECTIVES = [
  'able', 'agile', 'amazing', 'bold', 'brave', 'bright', 'calm', 'capable', 'clean', 'clever', 'crisp', 'curious',
  'dapper', 'eager', 'fast', 'fearless', 'gentle', 'glamorous', 'grand', 'handsome', 'honest', 'keen', 'kindly',
  'lively', 'loud', 'lucky', 'magnificent', 'merciful', 'nimble', 'patient', 'polite', 'quiet', 'rare', 'resilient',
  'secretive', 'sedate', 'shy', 'silent', 'smiling', 'stately', 'sunny', 'swift', 'tasteful', 'thoughtful', 'unique',
  'upbeat', 'valuable', 'vaunted', 'welcoming', 'wise', 'zealous',
];
const NOUNS = [
  'ant', 'ape', 'bass', 'bat', 'bear', 'bee', 'bird', 'boar', 'carp', 'cat', 'colt', 'crab', 'crow', 'deer', 'doe',
  'dog', 'dove', 'duck', 'eel', 'elk', 'fawn', 'finch', 'fish', 'foal', 'fox', 'frog', 'goat', 'gull', 'hare', 'hawk',
  'hen', 'horse', 'hound', 'jay', 'kit', 'lamb', 'lark', 'mare', 'mole', 'moth', 'mouse', 'mule', 'newt', 'owl', 'ox',
  'panda', 'penguin', 'pig', 'ram', 'rat', 'seal', 'shark', 'sheep', 'shrike', 'slug', 'snail', 'sow', 'squid', 'stag',
  'swan', 'toad', 'trout', 'whale', 'wolf', 'wren', 'yak', 'zebra',
];

export function generateRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000)}`;
}
